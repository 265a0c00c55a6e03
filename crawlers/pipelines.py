"""Item pipelines: check, write JSONL, store in batches, then journal what is safely stored.

Order (settings.ITEM_PIPELINES): EvidenceCheck -> Jsonl -> Storage -> Journal. An item's page is
marked done in the resume journal only once every enabled sink holds it durably: right away
without a database, after the batch's transaction commits with one.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured

from precursor_watch.contract import GoneItem, ListingItem, QuarantinedItem, UnchangedItem

if TYPE_CHECKING:
    from sqlalchemy import Engine

ITEM_TYPES = {ListingItem: "listing", GoneItem: "gone", QuarantinedItem: "quarantined", UnchangedItem: "unchanged"}
Item = ListingItem | GoneItem | QuarantinedItem | UnchangedItem

logger = logging.getLogger(__name__)


def item_key(item: Item) -> str:
    """The page an item came from: one item per requested URL and crawl."""
    return item.url


class EvidenceCheckPipeline:
    """Every item must cite its evidence; one item per page per crawl; counts items by kind."""

    def __init__(self, crawler):
        self.stats = crawler.stats
        self.seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        if not isinstance(item, (ListingItem, GoneItem, QuarantinedItem, UnchangedItem)):
            raise DropItem(f"not a ListingItem, GoneItem, QuarantinedItem or UnchangedItem: {type(item).__name__}")
        if item.evidence is None or not item.evidence.sha256:
            self.stats.inc_value("pwatch/dropped/no_evidence")
            raise DropItem(f"item without evidence: {item.url}")
        key = item_key(item)
        if key in self.seen:
            self.stats.inc_value("pwatch/dropped/duplicate")
            raise DropItem(f"duplicate item for {key}")
        self.seen.add(key)
        if isinstance(item, ListingItem):
            self.stats.inc_value("pwatch/items/listing")
        elif isinstance(item, QuarantinedItem):
            self.stats.inc_value(f"pwatch/quarantine/{item.kind}")
        elif isinstance(item, UnchangedItem):
            self.stats.inc_value("pwatch/items/unchanged")
        else:
            self.stats.inc_value(f"pwatch/items/gone/{item.reason}")
        return item


class JsonlPipeline:
    """Appends one JSON object per item (`"type": "listing"|"gone"`) to the `out` file.

    A fresh crawl truncates the file; a resumed one keeps it and skips keys already in it, so the
    file ends up holding each page once. Each line goes out in one `os.write`.
    """

    def __init__(self, crawler, path: Path):
        self.crawler = crawler
        self.path = path
        self.fd: int | None = None
        self.present: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        out = getattr(getattr(crawler.spider, "args", None), "out", None)
        if out is None:
            raise NotConfigured("no out file")
        return cls(crawler, Path(out))

    def open_spider(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        journal = getattr(self.crawler.spider, "journal", None)
        resuming = journal is not None and journal.resumed
        if resuming and self.path.exists():
            data = self.path.read_bytes()
            keep = data[: data.rfind(b"\n") + 1]
            if len(keep) != len(data):
                self.path.write_bytes(keep)
            for line in keep.decode("utf-8").splitlines():
                if line.strip():
                    self.present.add(json.loads(line)["url"])
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
        self.fd = os.open(self.path, flags, 0o644)

    def process_item(self, item):
        key = item_key(item)
        if key in self.present:
            return item
        if self.fd is None:
            raise RuntimeError("JSONL export: an item arrived before open_spider")
        record = {"type": ITEM_TYPES[type(item)], **item.to_json()}
        os.write(self.fd, (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
        self.present.add(key)
        return item

    def close_spider(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class StoragePipeline:
    """Items into the tracking database through `storage`, in batched transactions.

    Opens a crawl run at start and closes it at the end with the crawl's health stats.
    Disabled (NotConfigured) when the crawl has no `db_url`.
    """

    def __init__(self, crawler, db_url: str, batch_size: int):
        self.crawler = crawler
        self.db_url = db_url
        self.batch_size = batch_size
        self.buffer: list[Item] = []
        self.engine: Engine | None = None
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler):
        db_url = getattr(getattr(crawler.spider, "args", None), "db_url", None)
        if not db_url:
            raise NotConfigured("no database")
        pipeline = cls(crawler, db_url, crawler.settings.getint("PWATCH_DB_BATCH"))
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.spider.stores_in_db = True
        return pipeline

    def open_spider(self):
        # Imported here: `storage` is the only layer above the contract the crawlers may use, and only
        # here (docs/ARCHITECTURE.md, "Layers").
        from precursor_watch.storage.crawls import open_crawl_run
        from precursor_watch.storage.db import make_engine, session_scope

        self.engine = make_engine(self.db_url)
        args = self.crawler.spider.args
        with session_scope(self.engine) as session:
            self.run_id = open_crawl_run(session, args.platform, args.date)
        logger.info("crawl run %s opened in %s", self.run_id, self.db_url.split("@")[-1])

    def process_item(self, item):
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        if not self.buffer:
            return
        from precursor_watch.storage.crawls import refresh_statistics
        from precursor_watch.storage.db import session_scope
        from precursor_watch.storage.ingest import ingest_batch
        from precursor_watch.storage.warc_records import record_offsets

        if self.engine is None or self.run_id is None:
            raise RuntimeError("database pipeline: items arrived before open_spider opened the crawl run")
        batch, self.buffer = self.buffer, []
        with session_scope(self.engine) as session:
            summary = ingest_batch(session, self.run_id, batch)
            record_offsets(session, batch)  # where each cited record lies: verify seeks, never scans
        for kind, count in summary.refused.items():  # what the crawler sent as items but storage refused
            self.crawler.stats.inc_value(f"pwatch/quarantine/{kind}", count)
        with session_scope(self.engine) as session:  # after the commit: no locks held long
            refresh_statistics(session, only_stale=True)
        self.crawler.stats.inc_value("pwatch/db/items", len(batch))
        self.crawler.stats.inc_value("pwatch/db/batches")
        journal = getattr(self.crawler.spider, "journal", None)
        if journal is not None:
            journal.mark([item_key(i) for i in batch])

    def close_spider(self):
        self.flush()

    def spider_closed(self, spider, reason):
        from precursor_watch.crawlers.health import compute_health
        from precursor_watch.storage.crawls import close_crawl_run
        from precursor_watch.storage.db import session_scope

        if self.engine is None or self.run_id is None:
            return
        health = compute_health(self.crawler.stats.get_stats(), getattr(spider, "error_urls", []), reason, spider)
        threshold = self.crawler.settings.getfloat("PWATCH_ERROR_THRESHOLD", 0.2)
        if getattr(spider.args, "shard", None):
            # One run row for all shards: store the merge of every finished shard's health.
            from precursor_watch.crawlers.sharding import merged_with_other_shards

            with (
                merged_with_other_shards(spider.args, health) as merged,
                session_scope(self.engine) as session,
            ):
                close_crawl_run(session, self.run_id, merged, error_threshold=threshold)
        else:
            with session_scope(self.engine) as session:
                close_crawl_run(session, self.run_id, health, error_threshold=threshold)
        self.engine.dispose()


class JournalPipeline:
    """Marks an item's page done in the resume journal when no database pipeline does it later."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        spider = self.crawler.spider
        journal = getattr(spider, "journal", None)
        if journal is not None and not getattr(spider, "stores_in_db", False):
            journal.mark([item_key(item)])
        return item
