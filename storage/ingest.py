"""Ingest crawler items: idempotent Core upserts on the hot path.

One batch = items of one crawl run. Everything is validated before the first write (a malformed
item names its index and field and nothing is stored), then, per batch: accounts and stores
created on first sight, listings upserted, a snapshot only when the content hash changed, one
observation per URL (upserted), and first_seen / changed events. Ingesting the same items twice
leaves the database identical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from crawlers.items import GONE_REASONS, Evidence, GoneItem, ListingItem
from storage import events as ev
from storage.bulk import dialect_insert as _insert, executemany, one_of
from storage.errors import MalformedItem, UnknownEntity
from storage.models import Account, CrawlRun, Listing, Observation, Platform, Snapshot, Store

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class IngestSummary:
    seen: int = 0
    gone: int = 0
    new_listings: int = 0
    snapshots: int = 0
    changed: int = 0
    gone_unknown: int = 0  # gone pages of listings never seen alive


def content_hash(title: str, text: str) -> str:
    """SHA-256 of the normalised title + text (used when the crawler did not set one)."""
    norm = " ".join(f"{title}\n{text}".split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def ingest_batch(session: Session, run_id: int, items: Sequence[ListingItem | GoneItem]) -> IngestSummary:
    run = session.execute(
        select(CrawlRun.platform_id, CrawlRun.crawl_date, Platform.name)
        .join(Platform, Platform.id == CrawlRun.platform_id)
        .where(CrawlRun.id == run_id)
    ).one_or_none()
    if run is None:
        raise UnknownEntity(f"no crawl run with id {run_id}")
    pid, day, pname = run
    seen, gone = _validate(items, pname, day)
    summary = IngestSummary(seen=len(seen), gone=len(gone))
    with session.begin_nested():
        if seen:
            ids, new_ids = _ingest_seen(session, pid, day, seen, summary)
            _observe_seen(session, run_id, ids, seen)
            ev.append_first_seen(session, run_id, pid, day, new_ids)  # after the sightings they point at
        if gone:
            _ingest_gone(session, run_id, pid, gone, summary)
    return summary


# -- validation ----------------------------------------------------------------------------------


def _validate(items: Sequence[Any], platform: str, day: dt.date) -> tuple[list[ListingItem], list[GoneItem]]:
    seen: dict[str, ListingItem] = {}
    gone: dict[str, GoneItem] = {}
    for i, item in enumerate(items):
        where = _Where(i, item)  # formatted only when an error names it
        if isinstance(item, ListingItem):
            for name in ("listing_key", "url"):
                value = getattr(item, name)
                if not isinstance(value, str) or not value.strip():
                    raise MalformedItem(f"{where}: field {name} must be a non-empty string, got {value!r}")
            for name in ("title", "text"):
                if not isinstance(getattr(item, name), str):
                    raise MalformedItem(f"{where}: field {name} must be a string, got {getattr(item, name)!r}")
            for name in _OPTIONAL_STR:
                value = getattr(item, name)
                if value is not None and type(value) is not str:
                    raise MalformedItem(f"{where}: field {name} must be a string or None, got {value!r}")
            if type(item.contacts) not in (list, tuple) or any(type(c) is not str for c in item.contacts):
                raise MalformedItem(f"{where}: field contacts must be a list of strings, got {item.contacts!r}")
            if item.content_sha256 and not (isinstance(item.content_sha256, str) and _HEX64.match(item.content_sha256)):
                raise MalformedItem(f"{where}: field content_sha256 must be 64 lowercase hex digits, got {item.content_sha256!r}")
        elif isinstance(item, GoneItem):
            if not isinstance(item.url, str) or not item.url.strip():
                raise MalformedItem(f"{where}: field url must be a non-empty string, got {item.url!r}")
            if item.listing_key is not None and (not isinstance(item.listing_key, str) or not item.listing_key):
                raise MalformedItem(f"{where}: field listing_key must be a non-empty string or None")
            if item.reason not in GONE_REASONS:
                raise MalformedItem(f"{where}: field reason must be one of {GONE_REASONS}, got {item.reason!r}")
            if item.http_status is not None and not isinstance(item.http_status, int):
                raise MalformedItem(f"{where}: field http_status must be an int or None")
        else:
            raise MalformedItem(f"{where}: expected ListingItem or GoneItem, got {type(item).__name__}")
        if item.platform != platform:
            raise MalformedItem(f"{where}: field platform is {item.platform!r} but the crawl run is for {platform!r}")
        if item.crawl_date is not None and item.crawl_date != day:
            raise MalformedItem(f"{where}: field crawl_date is {item.crawl_date} but the crawl run is for {day}")
        if item.evidence is not None and not (
            isinstance(item.evidence, Evidence) and isinstance(item.evidence.sha256, str) and _HEX64.match(item.evidence.sha256)
        ):
            raise MalformedItem(f"{where}: field evidence must be an Evidence with a 64-hex sha256, got {item.evidence!r}")
        if isinstance(item, ListingItem):
            seen[item.listing_key] = item  # a listing seen twice in one batch: the later sighting wins
        else:
            gone[item.url] = item
    seen_urls = {it.url for it in seen.values()}
    return list(seen.values()), [g for url, g in gone.items() if url not in seen_urls]


class _Where:
    """`item 3 (listing 'CD1')`, built lazily: the hot path validates 100k items a day."""

    def __init__(self, i: int, item: Any):
        self.i, self.item = i, item

    def __str__(self) -> str:
        if isinstance(self.item, ListingItem):
            return f"item {self.i} (listing {getattr(self.item, 'listing_key', None)!r})"
        if isinstance(self.item, GoneItem):
            return f"item {self.i} (gone {getattr(self.item, 'url', None)!r})"
        return f"item {self.i}"

    __format__ = lambda self, spec: format(str(self), spec)  # noqa: E731


_OPTIONAL_STR = ("price", "currency", "seller_key", "seller_name", "store_key", "location", "lang", "posted_at")


# -- writes --------------------------------------------------------------------------------------


def _entity_ids(session: Session, model, key_col: str, pid: int, rows: dict[str, dict]) -> dict[str, int]:
    """Ids by key; rows not seen before are inserted (ON CONFLICT DO NOTHING: concurrent-safe)."""
    if not rows:
        return {}
    col = getattr(model, key_col)
    out: dict[str, int] = {}

    def load(keys):
        out.update(tuple(r) for r in session.execute(select(col, model.id).where(model.platform_id == pid, one_of(session, col, keys))))

    load(list(rows))
    missing = [k for k in rows if k not in out]
    if missing:
        session.execute(_insert(session, model).on_conflict_do_nothing(), [{"platform_id": pid, key_col: k, **rows[k]} for k in missing])
        load(missing)
    return out


def _ingest_seen(
    session: Session, pid: int, day: dt.date, items: list[ListingItem], summary: IngestSummary
) -> tuple[dict[str, int], list[int]]:
    """Upsert accounts, stores, listings, snapshots and `changed` events; return listing ids by
    key and the ids of listings created here (their first_seen events follow their observations).

    Only what changed is written: a new listing is inserted; a known one is updated only when its
    content, URL, account or store changed (its `last_seen_on` is set by reconcile, set-based, from
    the run's observations), so a steady-state day costs about one observation row per item.
    """
    accounts = _entity_ids(
        session, Account, "account_key", pid, {it.seller_key: {"name": it.seller_name} for it in items if it.seller_key}
    )
    stores = _entity_ids(session, Store, "store_key", pid, {it.store_key: {} for it in items if it.store_key})
    hashes = {it.listing_key: it.content_sha256 or content_hash(it.title, it.text) for it in items}
    keys = list(hashes)
    before: dict[str, tuple[int, str, dt.date, str, int | None, int | None]] = {}
    for lid, key, sha, last, url, acct, store in session.execute(
        select(Listing.id, Listing.listing_key, Listing.content_sha256, Listing.last_seen_on, Listing.url,
               Listing.account_id, Listing.store_id).where(Listing.platform_id == pid, one_of(session, Listing.listing_key, keys))
    ):
        before[key] = (lid, sha, last, url, acct, store)

    first = ev.FIRST_SEEN
    fresh = [it for it in items if it.listing_key not in before]
    # New rows get ids above every id committed before the insert (SQLite rowids and PostgreSQL
    # sequences both only grow), so one range scan finds them instead of a key lookup.
    id_floor = session.scalar(select(func.coalesce(func.max(Listing.id), 0))) if fresh else 0
    if fresh:
        executemany(
            session,
            _insert(session, Listing).on_conflict_do_nothing(),
            [
                {
                    "platform_id": pid,
                    "listing_key": it.listing_key,
                    "url": it.url,
                    "title": it.title,
                    "account_id": accounts.get(it.seller_key),
                    "store_id": stores.get(it.store_key),
                    "first_seen_on": day,
                    "last_seen_on": day,
                    "content_sha256": hashes[it.listing_key],
                    "presence": first.presence,
                    "review": first.review,
                }
                for it in fresh
            ],
        )

    # an older date ingested again never overrides newer facts
    updates = []
    for it in items:
        old = before.get(it.listing_key)
        if old is None or day < old[2]:
            continue
        row = (hashes[it.listing_key], it.url, accounts.get(it.seller_key), stores.get(it.store_key))
        if row != (old[1], old[3], old[4], old[5]):
            updates.append({"b_id": old[0], "content_sha256": row[0], "url": row[1], "account_id": row[2],
                            "store_id": row[3], "title": it.title})
    if updates:
        table = Listing.__table__
        session.execute(
            table.update().where(table.c.id == bindparam("b_id")).values(
                content_sha256=bindparam("content_sha256"), url=bindparam("url"), account_id=bindparam("account_id"),
                store_id=bindparam("store_id"), title=bindparam("title"),
            ),
            updates,
        )
    ids = {k: v[0] for k, v in before.items()}
    new_keys = [k for k in keys if k not in before]
    if new_keys:
        wanted = set(new_keys)
        for key, lid in session.execute(
            select(Listing.listing_key, Listing.id).where(Listing.id > id_floor, Listing.platform_id == pid)
        ):
            if key in wanted:
                ids[key] = lid
        late = [k for k in new_keys if k not in ids]  # inserted meanwhile by another writer
        if late:
            ids.update(
                session.execute(
                    select(Listing.listing_key, Listing.id).where(Listing.platform_id == pid, one_of(session, Listing.listing_key, late))
                ).all()
            )

    # A snapshot (and a `changed` event) only when the content differs from the latest we hold.
    snap_items = [
        it for it in items if it.listing_key not in before or (before[it.listing_key][1] != hashes[it.listing_key] and day >= before[it.listing_key][2])
    ]
    if snap_items:
        executemany(
            session,
            _insert(session, Snapshot).on_conflict_do_nothing(),
            [
                {
                    "listing_id": ids[it.listing_key],
                    "content_sha256": hashes[it.listing_key],
                    "seen_on": day,
                    "title": it.title,
                    "text": it.text,
                    "lang": it.lang,
                    "price": it.price,
                    "currency": it.currency,
                    "seller_name": it.seller_name,
                    "contacts": sorted(set(it.contacts)),
                    "location": it.location,
                    "posted_at": it.posted_at,
                    "evidence_sha256": it.evidence.sha256 if it.evidence else None,
                }
                for it in snap_items
            ],
        )
    summary.snapshots = len(snap_items)
    summary.new_listings = len(new_keys)
    changed = [it for it in snap_items if it.listing_key in before]
    summary.changed = len(changed)
    ev.append(
        session,
        [
            ev.NewEvent(
                "changed",
                ids[it.listing_key],
                day,
                evidence_sha256=it.evidence.sha256 if it.evidence else None,
                details={"from": before[it.listing_key][1], "to": hashes[it.listing_key]},
            )
            for it in changed
        ],
    )
    return ids, [ids[k] for k in new_keys]


def _observe_seen(session: Session, run_id: int, ids: dict[str, int], items: list[ListingItem]) -> None:
    _upsert_observations(
        session,
        run_id,
        [
            _observation(run_id, ids[it.listing_key], it.url, "seen", None, it.http_status, it.content_sha256 or content_hash(it.title, it.text), it.evidence)
            for it in items
        ],
    )


def _ingest_gone(session: Session, run_id: int, pid: int, items: list[GoneItem], summary: IngestSummary) -> None:
    by_key: dict[str, int] = {}
    keys = [g.listing_key for g in items if g.listing_key]
    if keys:
        by_key.update(
            session.execute(
                select(Listing.listing_key, Listing.id).where(Listing.platform_id == pid, one_of(session, Listing.listing_key, keys))
            ).all()
        )
    by_url: dict[str, int] = {}
    urls = [g.url for g in items if not g.listing_key]
    if urls:
        by_url.update(
            session.execute(select(Listing.url, Listing.id).where(Listing.platform_id == pid, one_of(session, Listing.url, urls))).all()
        )
    rows = []
    for g in items:
        lid = by_key.get(g.listing_key) if g.listing_key else by_url.get(g.url)
        if lid is None:
            summary.gone_unknown += 1
        rows.append(_observation(run_id, lid, g.url, "gone", g.reason, g.http_status, None, g.evidence))
    _upsert_observations(session, run_id, rows)


def _observation(run_id, lid, url, kind, reason, status, sha, evidence: Evidence | None) -> dict[str, Any]:
    return {
        "crawl_run_id": run_id,
        "listing_id": lid,
        "url": url,
        "kind": kind,
        "gone_reason": reason,
        "http_status": status,
        "content_sha256": sha,
        "evidence_file": evidence.warc_file if evidence else None,
        "evidence_record": evidence.record_id if evidence else None,
        "evidence_sha256": evidence.sha256 if evidence else None,
    }


def _upsert_observations(session: Session, run_id: int, rows: list[dict[str, Any]]) -> None:
    """One row per (run, URL), the hottest statement: 100k a day; a rerun overwrites in place.

    New URLs are plain inserts and URLs the run already holds (a rerun of the date) are updated by
    id. Not one `ON CONFLICT DO UPDATE`: with foreign keys on, SQLite's upsert into this table
    (events reference it) cost twice an insert when replaying a 100k-listing day.
    """
    if not rows:
        return
    by_url = {r["url"]: r for r in rows}  # one row per URL; the later item wins
    existing = dict(
        session.execute(
            select(Observation.url, Observation.id).where(Observation.crawl_run_id == run_id, one_of(session, Observation.url, by_url))
        ).all()
    )
    executemany(
        session, _insert(session, Observation).on_conflict_do_nothing(), [r for u, r in by_url.items() if u not in existing]
    )
    again = [{**r, "b_id": existing[u]} for u, r in by_url.items() if u in existing]
    if again:
        table = Observation.__table__
        values = {k: bindparam(k) for k in rows[0] if k not in ("crawl_run_id", "url")}
        session.execute(table.update().where(table.c.id == bindparam("b_id")).values(**values), again)
