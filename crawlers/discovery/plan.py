"""The query plan of a search-mode crawl: one JSON object per line, read once at spider start.

Line fields: `q` (the query as typed into the site search), `lang`, `substance` (lexicon id),
`how` (name | synonym | abbreviation | cas), and `refine` (narrower queries to run instead when
`q` hits the site's result cap). A bad line is an error naming the file and line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class PlanError(ValueError):
    """The query plan file is unreadable or a line is not a query."""


@dataclass(frozen=True)
class Query:
    q: str
    lang: str
    substance: str
    how: str
    refine: tuple[str, ...] = ()
    refined_from: str | None = None  # the capped query this one narrows

    def to_json(self) -> dict[str, object]:
        return {
            "q": self.q,
            "lang": self.lang,
            "substance": self.substance,
            "how": self.how,
            "refine": list(self.refine),
        }


def read_plan(path: Path) -> list[Query]:
    queries: list[Query] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            query = Query(
                q=_text(raw, "q"),
                lang=_text(raw, "lang"),
                substance=_text(raw, "substance"),
                how=_text(raw, "how"),
                refine=tuple(_texts(raw.get("refine", []))),
            )
        except (ValueError, AttributeError) as exc:
            raise PlanError(f"{path}:{lineno}: not a query: {exc}") from None
        queries.append(query)
    return queries


def write_plan(path: Path, queries: list[Query]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(q.to_json(), ensure_ascii=False, sort_keys=True) for q in queries)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def for_shard(queries: list[Query], shard: Any) -> list[Query]:
    """The queries shard I of N (a `crawlers.sharding.Shard`, or None) runs: split by a stable hash
    of the query, so the shards' shares are disjoint and together the whole plan."""
    if shard is None:
        return queries
    return [q for q in queries if _stable(f"{q.lang}\t{q.q}") % shard.count == shard.index - 1]


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _text(raw: dict, name: str) -> str:
    value = raw.get(name)
    if type(value) is not str or not value.strip():
        raise ValueError(f"field {name} must be non-empty text, got {value!r}")
    return value


def _texts(value: object) -> list[str]:
    if not isinstance(value, list) or not all(type(v) is str and v.strip() for v in value):
        raise ValueError(f"field refine must be a list of non-empty texts, got {value!r}")
    return list(value)
