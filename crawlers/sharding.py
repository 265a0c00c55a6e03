"""Sharded crawls: N processes (or Celery workers) crawl one platform and date, disjointly and completely.

`pwatch crawl --site NAME --date D --shard I/N` runs shard I (1-based) of N.

Why static partitioning and not a shared frontier in Redis: the fixture platforms (fixtures/README.md)
lay their discovery out by *slot*: index page k links the listings of slots [(k-1)*20, k*20) and
sitemap file b those of slots [(b-1)*1000, b*1000), and a listing key carries its slot (`CD12`,
`CD12R`, `TH12FCD`). So we cut the platform into *blocks* of 1000 slots (one sitemap file and the
50 index pages of the same slots) and give block B to shard B mod N. Then, without any
coordination, checkable by reading this file:

- disjoint: every listing URL has exactly one owner (`Shard.owns_url`, a pure function of the URL;
  accounts and stores, which only come from the revisit list, by a stable hash), and a shard
  fetches a listing only if it owns it; every index page and sitemap file has exactly one owner
  too. Only robots.txt and the sitemap index (`/sitemap.xml`, which tells each shard how many
  sitemap files exist) are fetched by every shard;
- complete: a listing of slot s is linked from index page s//20+1 and listed in sitemap file
  s//1000+1, both owned by the owner of s; the union of the shards' index and sitemap pages is
  exactly the single-process crawl's; the revisit list is read whole by every shard and each URL
  kept by its owner alone.
- nothing persists between runs: there are no cross-process fingerprints to expire, so the next
  day's crawl (or a rerun) can never be filtered by an earlier one. Each shard keeps its own
  resume journal and health in `<data_dir>/jobs/<platform>/<date>/shard-I-of-N/`.

A shared Redis frontier (scrapy-redis) would need a termination protocol across processes, a
seen-set with a TTL, and leaves the split to timing; a pure function of the URL is simpler to
prove and to test. A listing key without a slot number (not the case on our platforms) is fetched
by the shard that discovered it (its discovery page has one owner) and, from the revisit list, by
hash.

`ShardMiddleware` applies the partition to the spider's requests (spider middleware: the spiders
stay unaware of it); `merge_health` sums the shards' health so the crawl run in storage describes
the whole crawl, not the last shard (`crawlers.pipelines.StoragePipeline`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy

from precursor_watch.crawlers.health import drift_share

logger = logging.getLogger(__name__)

SLOTS_PER_PAGE = 20  # fixtures/README.md: index page k covers slots [(k-1)*20, k*20)
SLOTS_PER_BLOCK = 1000  # one sitemap file (`/sitemaps/listings-<b>.xml`)
PAGES_PER_BLOCK = SLOTS_PER_BLOCK // SLOTS_PER_PAGE
SITEMAP_FILE = re.compile(r"/sitemaps/listings-(\d+)\.xml")
KEY_SLOT = re.compile(r"[A-Z]+(\d+)")  # CD12, CD12R, TH12FCD -> 12


class ShardError(ValueError):
    """A malformed `--shard` value; the message names it."""


def listing_slot(key: str | None) -> int | None:
    match = KEY_SLOT.match(key or "")
    return int(match.group(1)) if match else None


def stable_hash(text: str) -> int:
    # Not hash(): that is salted per process, and every shard must compute the same owner.
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
        if not match:
            raise ShardError(f"shard must be I/N (e.g. 1/2), got {text!r}")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 1 <= index <= count:
            raise ShardError(f"shard {text!r}: need 1 <= I <= N")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def label(self) -> str:
        return f"shard-{self.index}-of-{self.count}"

    def owns_block(self, block: int) -> bool:
        return block % self.count == self.index - 1

    def owns_index_page(self, k: int) -> bool:
        return self.owns_block((k - 1) // PAGES_PER_BLOCK)

    def owns_sitemap(self, b: int) -> bool:
        return self.owns_block(b - 1)

    def owned_index_page(self, k: int) -> int:
        """Page k if owned, else the first page of the next block this shard owns (k >= 1)."""
        block = (k - 1) // PAGES_PER_BLOCK
        if self.owns_block(block):
            return k
        block += (self.index - 1 - block) % self.count
        return block * PAGES_PER_BLOCK + 1

    def owns_url(self, kind: str, key: str | None, url: str, discovered: bool) -> bool:
        """Owner of a listing/seller/store URL. `discovered`: found on a page this shard owns."""
        if kind == "listing":
            slot = listing_slot(key)
            if slot is not None:
                return self.owns_block(slot // SLOTS_PER_BLOCK)
            if discovered:
                return True
        # The path only: shards may reach the platform under different origins (a proxy, a replica).
        parts = urlsplit(url)
        return stable_hash(parts.path + (f"?{parts.query}" if parts.query else "")) % self.count == self.index - 1


class IndexPages:
    """Builds and reads index page URLs from a site's `first_index` (its last number is the page)."""

    def __init__(self, first_index: str):
        match = re.search(r"\d+(?=\D*$)", first_index)
        if match is None:
            raise ValueError(f"first_index {first_index!r} has no page number")
        self.head, self.tail = first_index[: match.start()], first_index[match.end() :]
        self.pattern = re.compile(re.escape(self.head) + r"(\d+)" + re.escape(self.tail))

    def path(self, k: int) -> str:
        return f"{self.head}{k}{self.tail}"

    def number(self, url: str) -> int | None:
        parts = urlsplit(url)
        match = self.pattern.fullmatch(parts.path + (f"?{parts.query}" if parts.query else ""))
        return int(match.group(1)) if match else None


class ShardMiddleware:
    """Spider middleware: keeps the spider's requests to what its shard owns (inactive without `shard`)."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _shard(self) -> Shard | None:
        args = getattr(self.crawler.spider, "args", None)
        return getattr(args, "shard_plan", None)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for thing in start:
            for kept in self._filter(thing):
                yield kept

    def process_spider_output(self, response, result: Iterable[Any]) -> Iterator[Any]:
        for thing in result:
            yield from self._filter(thing)

    async def process_spider_output_async(self, response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for thing in result:
            for kept in self._filter(thing):
                yield kept

    def _filter(self, thing: Any) -> Iterator[Any]:
        shard = self._shard()
        if shard is None or not isinstance(thing, scrapy.Request):
            yield thing
            return
        spider = self.crawler.spider
        stats = self.crawler.stats
        callback = getattr(thing.callback, "__name__", None)
        if callback == "parse_index":
            pages = IndexPages(spider.site.first_index)
            k = pages.number(thing.url)
            if k is not None and not shard.owns_index_page(k):
                # The next link leaves our block: jump to our next block (404 there ends the chain).
                target = shard.owned_index_page(k)
                stats.inc_value("pwatch/shard/index_jumps")
                yield thing.replace(url=spider.url(pages.path(target)))
                return
        elif callback == "parse_sitemap":
            match = SITEMAP_FILE.fullmatch(urlsplit(thing.url).path)
            if match and not shard.owns_sitemap(int(match.group(1))):
                stats.inc_value("pwatch/shard/not_owned/sitemap")
                return
        elif callback in ("parse_listing", "parse_account"):
            if thing.meta.get("pwatch_found_by"):
                # Found by a query (or a flagged seller's page) this shard ran: queries are split
                # over shards, so the shard that ran one fetches its new results (two shards may
                # both fetch a listing two queries found; storage keeps one observation per URL).
                yield thing
                return
            page_url = thing.cb_kwargs.get("page_url", thing.url)
            kind, key = spider.site.classify(page_url)
            if not shard.owns_url(kind, key, page_url, discovered=not thing.meta.get("pwatch_known")):
                stats.inc_value(f"pwatch/shard/not_owned/{kind}")
                return
        yield thing


# --- health of a sharded crawl -----------------------------------------------------------------
def _add(total: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        if isinstance(value, dict):
            _add(total.setdefault(key, {}), value)
        elif isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + value


def merge_health(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The health of the whole crawl from its shards' health dicts (`crawlers.health.compute_health`).

    Counts add up; the error rate is recomputed from the sums; the crawl finished only if every
    shard did; elapsed is the slowest shard's.
    """
    merged: dict[str, Any] = {}
    for part in parts:
        _add(
            merged,
            {
                k: v
                for k, v in part.items()
                if k not in ("error_rate", "quarantine_share", "drift_share", "elapsed_seconds")
            },
        )
    merged["error_rate"] = round(merged.get("error_count", 0) / merged["pages"], 6) if merged.get("pages") else 0.0
    merged["quarantine_share"] = (
        round(merged.get("quarantine_count", 0) / merged["pages"], 6) if merged.get("pages") else 0.0
    )
    listing_pages = merged.get("item_counts", {}).get("listings", 0) + merged.get("quarantine_count", 0)
    merged["drift_share"] = drift_share(merged.get("drift_pages", 0), listing_pages)
    merged["error_urls"] = [u for part in parts for u in part.get("error_urls", [])][:50]
    reasons = {part.get("finish_reason") for part in parts}
    merged["finish_reason"] = reasons.pop() if len(reasons) == 1 else "shards_unfinished"
    elapsed = [part["elapsed_seconds"] for part in parts if part.get("elapsed_seconds") is not None]
    merged["elapsed_seconds"] = max(elapsed) if elapsed else None
    merged["shards"] = len(parts)
    discoveries = [part["discovery"] for part in parts if part.get("discovery")]
    if discoveries:
        from precursor_watch.crawlers.discovery.report import merge_discovery

        merged["discovery"] = merge_discovery(discoveries)
    return merged


@contextmanager
def shards_locked(date_dir: Path, shard: Shard) -> Iterator[None]:
    """Serialises 'write my health, read all, store the merge' among the shards of one crawl.

    The last shard to finish then always stores the merge of every shard.
    """
    date_dir.mkdir(parents=True, exist_ok=True)
    with open(date_dir / f"shards-of-{shard.count}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def shard_healths(date_dir: Path, shard: Shard) -> list[dict[str, Any]]:
    """Health of every shard of this crawl that has finished (its own folder's health.json)."""
    parts = []
    for i in range(1, shard.count + 1):
        path = date_dir / Shard(i, shard.count).label / "health.json"
        if path.is_file():
            parts.append(json.loads(path.read_text(encoding="utf-8")))
    return parts


@contextmanager
def merged_with_other_shards(args, health: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Writes this shard's health and yields the merge of all finished shards, under the lock.

    Store the merge inside the `with` (the crawl run row is shared by the shards): whichever shard
    finishes last stores the health of the whole crawl; a rerun rewrites each shard's file, so it
    stays idempotent.
    """
    shard: Shard = args.shard_plan
    with shards_locked(args.job_root, shard):
        args.job_path.mkdir(parents=True, exist_ok=True)
        tmp = args.job_path / "health.json.tmp"
        tmp.write_text(json.dumps(health, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(args.job_path / "health.json")
        parts = shard_healths(args.job_root, shard)
        if len(parts) < shard.count:
            logger.info("shard %s: %d of %d shards finished so far", shard, len(parts), shard.count)
        yield merge_health(parts)
