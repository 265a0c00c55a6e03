"""Crawl health: one dict that tells a healthy crawl from a broken one.

Reconciliation must not count a listing as removed because the crawl that missed it was broken;
these numbers are what it decides on. Keys:

- `pages`: pages the crawl tried to get (each once, however many attempts), `responses`: HTTP
  responses received (every attempt), `requests`: requests sent;
- `faults`: failed attempts by kind (`http_5xx`, `http_429`, `timeout`, `truncated`,
  `incomplete_page`, `connection`, `unreachable`, `oversized`), retried or not;
- `errors`: pages given up on by kind (crawl errors; never turned into removals), with
  `error_urls` (first 50) and `error_rate` = errors / pages;
- `blocked`: requests refused before fetching (`offsite`, `robots`, `robots_unavailable`,
  `redirect_loop`);
- `items`: items emitted (int), `item_counts`: listings, gone items by reason, duplicates
  dropped; `resumed_skipped`: pages
  skipped because an interrupted earlier run of this crawl already stored them;
- `quarantined`: live listing pages whose item could not be stored, by kind (`extraction`,
  `invalid_field`, `too_long`, `storage_error`, `layout_drift`), `quarantine_count`, and `quarantine_share` =
  quarantined / pages; each still counts as a sighting of its URL;
- `item_counts.unchanged`: `304 Not Modified` answers to conditional revisits (live sightings of
  the stored snapshot, counted in `items`);
- `discovery`: mode (`full`, `search`, `sweep`), the query plan with each query's result pages,
  results, new links, cap and refinements (`crawlers.discovery.report`);
- `drift`: {field: listing pages whose required field came out empty} (layout drift: the page is
  whole but the platform file's rules no longer find the field), `drift_pages`, and
  `drift_share` = drift pages / listing pages read (listings + quarantined);
- `elapsed_seconds`: spider open to close; `finish_reason`: Scrapy's (`finished` when complete).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from scrapy import signals

logger = logging.getLogger(__name__)


def _sub(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in sorted(stats.items()) if k.startswith(prefix)}


def drift_share(drift_pages: int, listing_pages: int) -> float:
    return round(drift_pages / listing_pages, 6) if listing_pages else 0.0


def compute_health(
    stats: dict[str, Any], error_urls: list[str] | None = None, finish_reason: str | None = None, spider: Any = None
) -> dict[str, Any]:
    errors = _sub(stats, "pwatch/errors/")
    started = stats.get("start_time")
    elapsed = (dt.datetime.now(dt.UTC) - started).total_seconds() if started else None
    attempted = stats.get("pwatch/pages_attempted", 0)
    error_total = sum(errors.values())
    blocked = _sub(stats, "pwatch/blocked/")
    if stats.get("robotstxt/forbidden"):
        blocked["robots"] = stats["robotstxt/forbidden"]
    gone = _sub(stats, "pwatch/items/gone/")
    listings = stats.get("pwatch/items/listing", 0)
    quarantined = _sub(stats, "pwatch/quarantine/")
    quarantine_total = sum(quarantined.values())
    unchanged = stats.get("pwatch/items/unchanged", 0)
    health = {
        "pages": attempted,
        "responses": stats.get("pwatch/responses", 0),
        "requests": stats.get("downloader/request_count", 0),
        "faults": _sub(stats, "pwatch/faults/"),
        "retries": stats.get("retry/count", 0),
        "errors": errors,
        "error_count": error_total,
        "error_rate": round(error_total / attempted, 6) if attempted else 0.0,
        "error_urls": list(error_urls or [])[:50],
        "blocked": blocked,
        "quarantined": quarantined,
        "quarantine_count": quarantine_total,
        "quarantine_share": round(quarantine_total / attempted, 6) if attempted else 0.0,
        "drift": _sub(stats, "pwatch/drift/"),
        "drift_pages": stats.get("pwatch/drift_pages", 0),
        "drift_share": drift_share(stats.get("pwatch/drift_pages", 0), listings + quarantine_total),
        "items": listings + sum(gone.values()) + unchanged,
        "item_counts": {
            "listings": listings,
            "gone": gone,
            "unchanged": unchanged,
            "duplicates_dropped": stats.get("pwatch/dropped/duplicate", 0),
        },
        "resumed_skipped": stats.get("pwatch/resume/skipped", 0),
        "backoff_seconds": round(stats.get("pwatch/backoff/seconds", 0.0), 3),
        "finish_reason": finish_reason,
        "elapsed_seconds": round(elapsed, 3) if elapsed is not None else None,
    }
    report = getattr(spider, "discovery", None)
    if report is not None:
        health["discovery"] = report.as_health()
    return health


class HealthStats:
    """Writes `health.json` into the crawl's job dir at the end and logs a one-line summary."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider, reason: str) -> None:
        health = compute_health(self.crawler.stats.get_stats(), getattr(spider, "error_urls", []), reason, spider)
        spider.health = health
        job_path: Path | None = getattr(getattr(spider, "args", None), "job_path", None)
        if job_path is not None:
            job_path.mkdir(parents=True, exist_ok=True)
            (job_path / "health.json").write_text(json.dumps(health, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        logger.info(
            "crawl health %s: pages=%d listings=%d gone=%d errors=%d quarantined=%s faults=%s blocked=%s",
            spider.name,
            health["pages"],
            health["item_counts"]["listings"],
            sum(health["item_counts"]["gone"].values()),
            health["error_count"],
            health["quarantined"],
            health["faults"],
            health["blocked"],
        )
