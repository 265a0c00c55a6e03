"""What discovery did in one crawl, for `health.json` (`discovery`) and the crawl run row.

Per query: result pages fetched, listing links returned, links new to this crawl, whether the
site capped it and which narrower queries replaced it. `search_keys` (sweep crawls only) are the
listing keys that search, seller expansion or the revisit list reached: what a sweep finds
beyond them is what search alone would have missed. `revisit_keys` (search crawls only) are the
listing keys on the revisit list: the only listings such a crawl can count as absent (reconcile).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from precursor_watch.crawlers.discovery.plan import Query


@dataclass
class QueryCount:
    q: str
    lang: str
    substance: str
    refined_from: str | None = None
    pages: int = 0
    results: int = 0
    new: int = 0
    capped: bool = False
    refined_into: list[str] = field(default_factory=list)
    failed: bool = False  # a result page given up on: the query's results are incomplete


class DiscoveryReport:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.queries: dict[tuple[str, str], QueryCount] = {}
        self.reached: set[str] = set()  # listing keys reached other than by index or sitemap
        self.revisited: set[str] = set()  # listing keys on the revisit list
        self.seller_pages = 0

    def count(self, query: Query) -> QueryCount:
        key = (query.lang, query.q)
        if key not in self.queries:
            self.queries[key] = QueryCount(query.q, query.lang, query.substance, query.refined_from)
        return self.queries[key]

    def as_health(self) -> dict[str, Any]:
        counts = list(self.queries.values())
        health: dict[str, Any] = {
            "mode": self.mode,
            "queries": len(counts),
            "result_pages": sum(c.pages for c in counts),
            "results": sum(c.results for c in counts),
            "capped": sum(c.capped for c in counts),
            "refined": sum(1 for c in counts if c.refined_from),
            "failed_queries": sum(c.failed for c in counts),
            "seller_pages": self.seller_pages,
            "plan": [asdict(c) for c in counts],
        }
        if self.mode == "sweep":
            health["search_keys"] = sorted(self.reached)
        if self.mode == "search":
            health["revisit_keys"] = sorted(self.revisited)
        return health


def merge_discovery(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The discovery health of a sharded crawl: counts added, plans joined, reached keys united."""
    merged: dict[str, Any] = {"mode": parts[0].get("mode"), "plan": []}
    for part in parts:
        for name, value in part.items():
            if isinstance(value, int) and not isinstance(value, bool):
                merged[name] = merged.get(name, 0) + value
        merged["plan"].extend(part.get("plan", []))
    for keys in ("search_keys", "revisit_keys"):
        if any(keys in part for part in parts):
            merged[keys] = sorted({k for part in parts for k in part.get(keys, [])})
    return merged
