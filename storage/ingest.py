"""Ingest crawler items: idempotent Core upserts on the hot path.

One batch = items of one crawl run. Every item is sanitised and validated before the first write;
one that cannot be stored goes to the quarantine table (naming its index and field) and the
others are stored all the same. Then, per batch: accounts and stores
created on first sight, listings upserted, a snapshot only when the content hash changed, one
observation per URL (upserted), and first_seen / changed events. Ingesting the same items twice
leaves the database identical.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Connection,
    Date,
    Insert,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from precursor_watch.contract import (
    GONE_REASONS,
    Evidence,
    GoneItem,
    ListingItem,
    QuarantinedItem,
    UnchangedItem,
    clean_text,
    content_hash,
    sanitize_listing,
    storable_text,
)
from precursor_watch.storage import events as ev
from precursor_watch.storage.bulk import dialect_insert as _insert
from precursor_watch.storage.bulk import executemany, insert_for, json_strings, one_of
from precursor_watch.storage.errors import MalformedItem, UnknownEntity
from precursor_watch.storage.kinds import EventKind, ObservationKind, QuarantineKind
from precursor_watch.storage.models import (
    Account,
    CrawlRun,
    Listing,
    Observation,
    Platform,
    Quarantine,
    Snapshot,
    Store,
)
from precursor_watch.storage.staging import (
    OBS_INSERT,
    OBS_UPDATE,
    STAGE,
    clear_stage,
    fill_stage,
    open_stage,
)

_HEX64 = re.compile(r"[0-9a-f]{64}")  # used with fullmatch: `$` would let a trailing newline through


@dataclass
class IngestSummary:
    seen: int = 0
    gone: int = 0
    new_listings: int = 0
    snapshots: int = 0
    changed: int = 0
    gone_unknown: int = 0  # gone pages of listings never seen alive
    unchanged: int = 0  # 304 answers to conditional revisits: sightings of the last snapshot
    unchanged_unknown: int = 0  # ... of URLs no stored listing has (skipped: nothing to tie them to)
    quarantined: dict[str, int] = field(default_factory=dict)  # every quarantine row written, by kind
    refused: dict[str, int] = field(default_factory=dict)  # ... of which refused here (not by the crawler)

    def add(self, other: IngestSummary) -> None:
        for name in ("new_listings", "snapshots", "changed", "gone_unknown", "unchanged", "unchanged_unknown"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Refused:
    """An item kept out of the tables it was meant for, on its way to the quarantine table."""

    item: Any
    kind: QuarantineKind
    field: str | None
    message: str
    by_crawler: bool = False  # a QuarantinedItem: counted by the crawler already

    @property
    def live(self) -> bool:
        """A listing page fetched live: its URL counts as seen that day whatever went wrong."""
        if isinstance(self.item, QuarantinedItem):
            return self.item.http_status is None or 200 <= self.item.http_status < 300
        return isinstance(self.item, ListingItem)


def ingest_batch(
    session: Session, run_id: int, items: Sequence[ListingItem | GoneItem | QuarantinedItem | UnchangedItem]
) -> IngestSummary:
    """Store a batch; an item that cannot be stored is quarantined, never the batch with it.

    Items are sanitised and checked one by one first (types, column lengths); the rest go through
    the set-based writes together. Should the database still refuse a write, the batch is split
    until the item at fault is alone, and only that item is quarantined.
    """
    run = (
        session.connection()
        .execute(
            select(CrawlRun.platform_id, CrawlRun.crawl_date, Platform.name)
            .join(Platform, Platform.id == CrawlRun.platform_id)
            .where(CrawlRun.id == run_id)
        )
        .one_or_none()
    )
    if run is None:
        raise UnknownEntity(f"no crawl run with id {run_id}")
    pid, day, pname = run
    unchanged = [it for it in items if type(it) is UnchangedItem]
    if unchanged:
        items = [it for it in items if type(it) is not UnchangedItem]
    seen, gone, refused = _validate(items, pname, day)
    summary = IngestSummary(seen=len(seen), gone=len(gone))
    with session.begin_nested():
        _write_isolated(session, run_id, pid, day, seen, summary, refused)
        _write_isolated(session, run_id, pid, day, gone, summary, refused)
        if unchanged:
            answered = {it.url for it in seen} | {it.url for it in gone}
            _ingest_unchanged(session, run_id, pid, [u for u in unchanged if u.url not in answered], summary)
        _clear_quarantined(
            session, run_id, [it.url for it in seen] + [it.url for it in gone] + [it.url for it in unchanged]
        )
        if refused:
            write_quarantine(session, run_id, pid, refused, summary)
    return summary


def _write_isolated(
    session: Session, run_id: int, pid: int, day: dt.date, items: list, summary: IngestSummary, refused: list[Refused]
) -> None:
    """All `items` (all seen or all gone) in one go; on a database error, each half on its own."""
    if not items:
        return
    part = IngestSummary()
    errors = _database_errors(session)
    try:
        with session.begin_nested():
            if isinstance(items[0], ListingItem):
                _ingest_seen(session, run_id, pid, day, items, part)
            else:
                _ingest_gone(session, run_id, pid, items, part)
    except errors as exc:
        if len(items) == 1:
            message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:500]
            refused.append(Refused(items[0], QuarantineKind.STORAGE_ERROR, None, f"the database refused it: {message}"))
            if isinstance(items[0], ListingItem):
                summary.seen -= 1
            else:
                summary.gone -= 1
            return
        half = len(items) // 2
        _write_isolated(session, run_id, pid, day, items[:half], summary, refused)
        _write_isolated(session, run_id, pid, day, items[half:], summary, refused)
        return
    summary.add(part)


def _database_errors(session: Session) -> tuple[type[BaseException], ...]:
    """What a refused write raises: SQLAlchemy's errors, and the driver's own (COPY runs on it)."""
    dbapi = session.connection().dialect.dbapi
    driver = getattr(dbapi, "Error", None)
    return (SQLAlchemyError, driver) if isinstance(driver, type) else (SQLAlchemyError,)


# -- validation ----------------------------------------------------------------------------------


_QUARANTINE_KINDS = tuple(k.value for k in QuarantineKind)


def _validate(
    items: Sequence[Any], platform: str, day: dt.date
) -> tuple[list[ListingItem], list[GoneItem], list[Refused]]:
    seen: dict[str, ListingItem] = {}
    gone: dict[str, GoneItem] = {}
    refused: list[Refused] = []
    for i, item in enumerate(items):
        if type(item) is QuarantinedItem:
            if item.kind not in _QUARANTINE_KINDS:  # the column refuses it: keep the page, say why
                refused.append(
                    Refused(
                        item,
                        QuarantineKind.INVALID_FIELD,
                        "kind",
                        f"{_where(i, item)}: field kind must be one of {_QUARANTINE_KINDS}, got {_short(item.kind)}",
                    )
                )
                continue
            refused.append(Refused(item, QuarantineKind(item.kind), item.field, item.message, by_crawler=True))
            continue
        # The common item (right types, clean text, within the column widths) is decided by
        # C-level checks; any other is sanitised and gets the field-by-field check, which names
        # what is wrong.
        if not (type(item) is ListingItem and _plainly_valid(item, platform, day)):
            if type(item) is ListingItem:
                item = sanitize_listing(item)
            problem = _problem(item, platform, day)
            if problem:
                if not isinstance(item, (ListingItem, GoneItem)):
                    raise MalformedItem(f"{_where(i, item)}: {problem[2]}")  # not an item at all: a bug upstream
                refused.append(Refused(item, problem[0], problem[1], f"{_where(i, item)}: {problem[2]}"))
                continue
        if isinstance(item, ListingItem):
            seen[item.listing_key] = item  # a listing seen twice in one batch: the later sighting wins
        else:
            gone[item.url] = item
    seen_urls = {it.url for it in seen.values()}
    return list(seen.values()), [g for url, g in gone.items() if url not in seen_urls], refused


_OPTIONAL_STR = ("price", "currency", "seller_key", "seller_name", "store_key", "lang", "posted_at")
_optional_strs = operator.attrgetter(*_OPTIONAL_STR)
_STR_OR_NONE = frozenset((str, type(None)))
_STR = frozenset((str,))


# The longest value each bounded text column takes (SQLite does not enforce VARCHAR lengths, so
# ingest checks them itself, the same on both databases).
def _width(model: type[Any], column: str) -> int:
    """The declared length of a VARCHAR column (a model change that drops it fails at import)."""
    column_type = model.__table__.c[column].type
    if not isinstance(column_type, String) or column_type.length is None:
        raise TypeError(f"{model.__name__}.{column} is not a bounded string column")
    return column_type.length


_LIMITS = {
    "listing_key": _width(Listing, "listing_key"),
    "seller_key": _width(Account, "account_key"),
    "store_key": _width(Store, "store_key"),
    **{name: _width(Snapshot, name) for name in ("seller_name", "lang", "price", "currency", "posted_at")},
}
_limited = operator.attrgetter(*_LIMITS)
_LIMIT_VALUES = tuple(_LIMITS.values())


_SHORTEST_LIMIT = min(_LIMIT_VALUES)
_BOUNDED = len(_LIMITS)
_texts = operator.attrgetter(*_LIMITS, "url", "title", "text")  # the bounded fields first


def _plainly_storable(item: ListingItem) -> bool:
    """For an item whose text fields are str or None and contacts a list of str (checked
    before): every bounded value within its column's width, and no NUL or lone surrogate in any
    text. The common item is decided by a few C-level calls."""
    values = _texts(item)
    bounded = values[:_BOUNDED]
    # listing_key is among them and non-empty (checked before), so max() always has a value
    if max(map(len, filter(None, bounded))) > _SHORTEST_LIMIT and not all(
        value is None or len(value) <= limit for value, limit in zip(bounded, _LIMIT_VALUES, strict=True)
    ):
        return False
    return storable_text("".join(filter(None, values)) + "".join(item.contacts))


def _signals_ok(value: Any) -> bool:
    return value is None or (type(value) is dict and all(type(k) is str and type(v) is bool for k, v in value.items()))


def _signals_json(value: dict[str, bool] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _plainly_valid(item: ListingItem, platform: str, day: dt.date) -> bool:
    """True when `_problem` would find nothing; False means "look closer", not "malformed"."""
    evidence = item.evidence
    return bool(
        type(item.listing_key) is str
        and item.listing_key.strip()
        and type(item.url) is str
        and item.url.strip()
        and type(item.title) is str
        and type(item.text) is str
        and _STR_OR_NONE.issuperset(map(type, _optional_strs(item)))
        and type(item.contacts) in (list, tuple)
        and _STR.issuperset(map(type, item.contacts))
        and (item.offer_signals is None or _signals_ok(item.offer_signals))
        and (not item.content_sha256 or (type(item.content_sha256) is str and _HEX64.fullmatch(item.content_sha256)))
        and item.platform == platform
        and (item.crawl_date is None or item.crawl_date == day)
        and (
            evidence is None
            or (
                type(evidence) is Evidence
                and type(evidence.sha256) is str
                and _HEX64.fullmatch(evidence.sha256)
                and type(evidence.target_uri) is str
            )
        )
        and _plainly_storable(item)
    )


def _problem(item: Any, platform: str, day: dt.date) -> tuple[QuarantineKind, str | None, str] | None:
    """(kind, field, message) of what is wrong with an item; None if nothing is."""
    if isinstance(item, ListingItem):
        found = _listing_problem(item)
        if found:
            return found
    elif isinstance(item, GoneItem):
        gone_found = _gone_problem(item)
        if gone_found:
            return (QuarantineKind.INVALID_FIELD, *gone_found)
    else:
        return QuarantineKind.INVALID_FIELD, None, f"expected ListingItem or GoneItem, got {type(item).__name__}"
    if item.platform != platform:
        return (
            QuarantineKind.INVALID_FIELD,
            "platform",
            f"field platform is {item.platform!r} but the crawl run is for {platform!r}",
        )
    if item.crawl_date is not None and item.crawl_date != day:
        return (
            QuarantineKind.INVALID_FIELD,
            "crawl_date",
            f"field crawl_date is {item.crawl_date} but the crawl run is for {day}",
        )
    if item.evidence is not None and not (
        isinstance(item.evidence, Evidence)
        and isinstance(item.evidence.sha256, str)
        and _HEX64.fullmatch(item.evidence.sha256)
    ):
        return (
            QuarantineKind.INVALID_FIELD,
            "evidence",
            f"field evidence must be an Evidence with a 64-hex sha256, got {item.evidence!r}",
        )
    if item.evidence is not None and not isinstance(item.evidence.target_uri, str):
        return (
            QuarantineKind.INVALID_FIELD,
            "evidence",
            f"field evidence.target_uri must be a string, got {item.evidence.target_uri!r}",
        )
    return None


def _listing_problem(item: ListingItem) -> tuple[QuarantineKind, str | None, str] | None:
    for name in ("listing_key", "url"):
        value = getattr(item, name)
        if not isinstance(value, str) or not value.strip():
            return QuarantineKind.INVALID_FIELD, name, f"field {name} must be a non-empty string, got {_short(value)}"
    for name in ("title", "text"):
        if not isinstance(getattr(item, name), str):
            return (
                QuarantineKind.INVALID_FIELD,
                name,
                f"field {name} must be a string, got {_short(getattr(item, name))}",
            )
    for name in _OPTIONAL_STR:
        value = getattr(item, name)
        if value is not None and type(value) is not str:
            return QuarantineKind.INVALID_FIELD, name, f"field {name} must be a string or None, got {_short(value)}"
    if type(item.contacts) not in (list, tuple) or any(type(c) is not str for c in item.contacts):
        return (
            QuarantineKind.INVALID_FIELD,
            "contacts",
            f"field contacts must be a list of strings, got {_short(item.contacts)}",
        )
    if not _signals_ok(item.offer_signals):
        return (
            QuarantineKind.INVALID_FIELD,
            "offer_signals",
            f"field offer_signals must be names to booleans or None, got {_short(item.offer_signals)}",
        )
    if item.content_sha256 and not (isinstance(item.content_sha256, str) and _HEX64.fullmatch(item.content_sha256)):
        return (
            QuarantineKind.INVALID_FIELD,
            "content_sha256",
            f"field content_sha256 must be 64 lowercase hex digits, got {_short(item.content_sha256)}",
        )
    for name, limit in _LIMITS.items():
        value = getattr(item, name)
        if value is not None and len(value) > limit:
            return QuarantineKind.TOO_LONG, name, f"field {name} has {len(value)} characters, the column holds {limit}"
    return None


def _gone_problem(item: GoneItem) -> tuple[str, str] | None:
    if not isinstance(item.url, str) or not item.url.strip():
        return "url", f"field url must be a non-empty string, got {_short(item.url)}"
    if item.listing_key is not None and (not isinstance(item.listing_key, str) or not item.listing_key):
        return "listing_key", "field listing_key must be a non-empty string or None"
    if isinstance(item.listing_key, str) and len(item.listing_key) > _LIMITS["listing_key"]:
        return (
            "listing_key",
            f"field listing_key has {len(item.listing_key)} characters, the column holds {_LIMITS['listing_key']}",
        )
    if item.reason not in GONE_REASONS:
        return "reason", f"field reason must be one of {GONE_REASONS}, got {_short(item.reason)}"
    if item.http_status is not None and not isinstance(item.http_status, int):
        return "http_status", "field http_status must be an int or None"
    return None


def _short(value: Any) -> str:
    """repr of a value for a message: bounded, whatever the page put there."""
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:100]}... ({len(text)} characters)"


def _where(i: int, item: Any) -> str:
    """`item 3 (listing 'CD1')`: which item of the batch an error is about."""
    if isinstance(item, ListingItem):
        return f"item {i} (listing {_short(getattr(item, 'listing_key', None))})"
    if isinstance(item, GoneItem):
        return f"item {i} (gone {_short(getattr(item, 'url', None))})"
    return f"item {i}"


# -- quarantine ----------------------------------------------------------------------------------


def _text_or_none(value: Any) -> str | None:
    return clean_text(value) if isinstance(value, str) else None


def _clear_quarantined(session: Session, run_id: int, urls: list[str]) -> None:
    """Drop the run's quarantine rows for URLs just stored (or refused again, rewritten next): a
    rerun that stores an item cleanly leaves no stale row to count. One indexed probe per batch
    when the run has none."""
    if not urls:
        return
    conn = session.connection()
    if conn.execute(select(Quarantine.id).where(Quarantine.crawl_run_id == run_id).limit(1)).first() is None:
        return
    conn.execute(delete(Quarantine).where(Quarantine.crawl_run_id == run_id, one_of(session, Quarantine.url, urls)))


def write_quarantine(session: Session, run_id: int, pid: int, refused: list[Refused], summary: IngestSummary) -> None:
    """One quarantine row per refused URL of the run (a rerun replaces it), and a live sighting
    for every refused listing page, so reconcile never reads it as absent."""
    conn = session.connection()
    by_url = {_text_or_none(getattr(r.item, "url", None)) or _short(getattr(r.item, "url", None)): r for r in refused}
    refused = list(by_url.values())  # the same page twice in a batch: the later one stands
    rows = []
    for r in refused:
        item = r.item
        evidence = item.evidence if isinstance(getattr(item, "evidence", None), Evidence) else None
        rows.append(
            {
                "crawl_run_id": run_id,
                "platform_id": pid,
                "url": _text_or_none(getattr(item, "url", None)) or _short(getattr(item, "url", None)),
                "listing_key": _text_or_none(getattr(item, "listing_key", None)),
                "kind": r.kind[:24],
                "field": (r.field or None) and r.field[:40],
                "message": clean_text(r.message),
                "evidence_file": _text_or_none(evidence.warc_file) if evidence else None,
                "evidence_record": _text_or_none(evidence.record_id) if evidence else None,
                "evidence_sha256": evidence.sha256
                if evidence and isinstance(evidence.sha256, str) and _HEX64.fullmatch(evidence.sha256)
                else None,
            }
        )
        summary.quarantined[r.kind] = summary.quarantined.get(r.kind, 0) + 1
        if not r.by_crawler:
            summary.refused[r.kind] = summary.refused.get(r.kind, 0) + 1
    conn.execute(
        delete(Quarantine).where(
            Quarantine.crawl_run_id == run_id, one_of(session, Quarantine.url, [r["url"] for r in rows])
        )
    )
    conn.execute(insert(Quarantine), rows)
    _live_sightings(session, run_id, pid, [(r, row) for r, row in zip(refused, rows, strict=True) if r.live])


def _live_sightings(session: Session, run_id: int, pid: int, live: list[tuple[Refused, dict[str, Any]]]) -> None:
    """A `seen` observation per live page whose item was refused: of its listing when we know it
    (by key, else by URL), without content; a URL the run already holds keeps its observation."""
    if not live:
        return
    conn = session.connection()
    keys = [row["listing_key"] for _r, row in live if row["listing_key"]]
    by_key = (
        dict(
            conn.execute(
                select(Listing.listing_key, Listing.id).where(
                    Listing.platform_id == pid, one_of(session, Listing.listing_key, keys)
                )
            ).all()
        )
        if keys
        else {}
    )
    urls = [row["url"] for _r, row in live]
    by_url = dict(
        conn.execute(
            select(Listing.url, Listing.id).where(Listing.platform_id == pid, one_of(session, Listing.url, urls))
        ).all()
    )
    rows = {}
    for r, row in live:
        status = getattr(r.item, "http_status", None)
        rows[row["url"]] = {
            "crawl_run_id": run_id,
            "listing_id": by_key.get(row["listing_key"]) or by_url.get(row["url"]),
            "url": row["url"],
            "kind": ObservationKind.SEEN,
            "gone_reason": None,
            "http_status": status if type(status) is int else None,
            "content_sha256": None,
            "evidence_file": row["evidence_file"],
            "evidence_record": row["evidence_record"],
            "evidence_sha256": row["evidence_sha256"],
        }
    executemany(session, _insert(session, Observation).on_conflict_do_nothing(), list(rows.values()))


# -- writes --------------------------------------------------------------------------------------


def _entity_ids(session: Session, model, key_col: str, pid: int, rows: dict[str, dict]) -> dict[str, int]:
    """Ids by key; rows not seen before are inserted (ON CONFLICT DO NOTHING: concurrent-safe)."""
    if not rows:
        return {}
    col = getattr(model, key_col)
    out: dict[str, int] = {}
    conn = session.connection()

    def load(keys):
        out.update(
            tuple(r)
            for r in conn.execute(select(col, model.id).where(model.platform_id == pid, one_of(session, col, keys)))
        )

    load(list(rows))
    missing = [k for k in rows if k not in out]
    if missing:
        conn.execute(
            _insert(session, model).on_conflict_do_nothing(),
            [{"platform_id": pid, key_col: k, **rows[k]} for k in missing],
        )
        load(missing)
    return out


class KnownListing(NamedTuple):
    """A listing of the batch that is already stored, as it was before the batch. The fields from
    `content_sha256` on are the ones an update compares, in `MUTABLE` order, so `old[MUTABLE]`
    is one tuple comparison per item."""

    id: int
    last_seen_on: dt.date
    content_sha256: str
    url: str
    account_id: int | None
    store_id: int | None
    etag: str | None
    last_modified: str | None


MUTABLE = slice(2, None)  # KnownListing's compared fields: content hash, URL, account, store, validators


@dataclass
class SeenBatch:
    """One crawl run's live pages and what their writes read."""

    items: list[ListingItem]
    day: dt.date
    hashes: dict[str, str]  # listing key -> content hash
    accounts: dict[str, int]  # seller key -> account id
    stores: dict[str, int]  # store key -> store id
    before: dict[str, KnownListing]  # listing key -> the stored listing

    @functools.cached_property
    def snapshot_keys(self) -> set[str]:
        """A snapshot (and a `changed` event) only when the content differs from the latest we hold
        (and the date is not older than the listing's last sighting)."""
        return {
            key
            for key, sha in self.hashes.items()
            if key not in self.before
            or (self.before[key].content_sha256 != sha and self.day >= self.before[key].last_seen_on)
        }


class NewListings(NamedTuple):
    """The listings a batch created: a range of ids (new rows get ids above every earlier one)."""

    low: int
    high: int
    size: int  # not `count`, which would shadow tuple.count


def _ingest_seen(
    session: Session, run_id: int, pid: int, day: dt.date, items: list[ListingItem], summary: IngestSummary
) -> None:
    """Accounts, stores, listings, snapshots, observations and their events for the live pages.

    Only what changed is written: a new listing is inserted; a known one is updated only when its
    content, URL, account or store changed (its `last_seen_on` is set by reconcile, set-based, from
    the run's observations), so a steady-state day costs about one observation row per item. The
    rows themselves go through the staging table (`storage.staging`): one row per item from
    Python, then set-based statements.
    """
    batch = _seen_batch(session, pid, day, items)
    _update_known_listings(session.connection(), batch)
    created = _write_through_stage(session, run_id, pid, batch)
    summary.new_listings = created.size if created else 0
    summary.snapshots = len(batch.snapshot_keys)
    changed = [it for it in items if it.listing_key in batch.before and it.listing_key in batch.snapshot_keys]
    summary.changed = len(changed)
    ev.append(
        session,
        [
            ev.NewEvent(
                EventKind.CHANGED,
                batch.before[it.listing_key].id,
                day,
                **_cites(it.evidence),
                details={"from": batch.before[it.listing_key].content_sha256, "to": batch.hashes[it.listing_key]},
            )
            for it in changed
        ],
    )


def _seen_batch(session: Session, pid: int, day: dt.date, items: list[ListingItem]) -> SeenBatch:
    """Account and store ids (created on first sight), content hashes and the stored listings."""
    accounts = _entity_ids(
        session, Account, "account_key", pid, {it.seller_key: {"name": it.seller_name} for it in items if it.seller_key}
    )
    stores = _entity_ids(session, Store, "store_key", pid, {it.store_key: {} for it in items if it.store_key})
    hashes = {it.listing_key: it.content_sha256 or content_hash(it.title, it.text) for it in items}
    before = {}
    for row in session.connection().execute(
        select(
            Listing.id,
            Listing.listing_key,
            Listing.last_seen_on,
            Listing.content_sha256,
            Listing.url,
            Listing.account_id,
            Listing.store_id,
            Listing.etag,
            Listing.last_modified,
        ).where(Listing.platform_id == pid, one_of(session, Listing.listing_key, list(hashes)))
    ):
        before[row[1]] = KnownListing(row[0], *row[2:])  # the select lists the fields in order
    return SeenBatch(items, day, hashes, accounts, stores, before)


def _update_known_listings(conn: Connection, batch: SeenBatch) -> None:
    """Content hash, URL, account, store, title and validators (ETag, Last-Modified) of stored
    listings whose values changed; an older date ingested again never overrides newer facts."""
    # Per item, on every item of a day: locals and one tuple comparison (this loop is hot).
    before, hashes, accounts, stores, day = batch.before, batch.hashes, batch.accounts, batch.stores, batch.day
    updates = []
    for it in batch.items:
        old = before.get(it.listing_key)
        if old is None or day < old.last_seen_on:
            continue
        seller, shop = it.seller_key, it.store_key
        now = (
            hashes[it.listing_key],
            it.url,
            accounts.get(seller) if seller is not None else None,
            stores.get(shop) if shop is not None else None,
            *validators(it),
        )
        if now != old[MUTABLE]:
            sha, url, account, store, etag, modified = now
            updates.append(
                {
                    "b_id": old.id,
                    "content_sha256": sha,
                    "url": url,
                    "account_id": account,
                    "store_id": store,
                    "title": it.title,
                    "etag": etag,
                    "last_modified": modified,
                }
            )
    if updates:
        table = cast(Table, Listing.__table__)
        conn.execute(
            table.update()
            .where(table.c.id == bindparam("b_id"))
            .values(
                content_sha256=bindparam("content_sha256"),
                url=bindparam("url"),
                account_id=bindparam("account_id"),
                store_id=bindparam("store_id"),
                title=bindparam("title"),
                etag=bindparam("etag"),
                last_modified=bindparam("last_modified"),
            ),
            updates,
        )


def _write_through_stage(session: Session, run_id: int, pid: int, batch: SeenBatch) -> NewListings | None:
    """Stage one row per item, then new listings, snapshots, sightings and first_seen events set-based."""
    conn = session.connection()  # Core statements: the ORM layer adds nothing here
    # One observation per (run, URL): a URL the run already holds (a rerun) is updated in place;
    # two items with one URL in a batch keep the later one.
    last_at_url = {it.url: it.listing_key for it in batch.items}
    observed = set(
        conn.scalars(
            select(Observation.url).where(
                Observation.crawl_run_id == run_id, one_of(session, Observation.url, list(last_at_url))
            )
        )
    )
    open_stage(session)
    fill_stage(session, _staged_rows(batch, last_at_url, observed))
    writes = _stage_writes(conn.dialect.name)
    params = {"pid": pid, "day": batch.day, "run_id": run_id}
    new_listings = len(batch.hashes) - len(batch.before)  # `before` holds the batch's keys already stored
    created = _insert_new_listings(conn, writes, params) if new_listings else None
    if batch.snapshot_keys:
        conn.execute(writes.snapshots, params)
    conn.execute(writes.sightings, params)
    if observed:  # a rerun: the sightings this run already holds are overwritten in place
        conn.execute(writes.sightings_again, params)
    if created:  # after the sightings they point at
        conn.execute(
            writes.first_seen, {**params, **ev.first_seen_params(batch.day), "low": created.low, "high": created.high}
        )
    clear_stage(session)
    return created


MAX_ETAG = 1024  # characters of an ETag kept; a longer one is not a validator we send back
MAX_LAST_MODIFIED = _width(Listing, "last_modified")  # once: a per-item lookup cost ~5 % of a day's ingest


def validators(item: ListingItem) -> tuple[str | None, str | None]:
    """The item's (ETag, Last-Modified) as stored: a 200 answer's, each only when it is plain
    visible ASCII of sane length (a hostile header is dropped, never stored or sent back)."""
    etag, modified = item.etag, item.last_modified
    if (etag is None and modified is None) or item.http_status != 200:
        return NO_VALIDATORS  # the common case first: twice per item in a day's ingest
    return _header(etag, MAX_ETAG), _header(modified, MAX_LAST_MODIFIED)


NO_VALIDATORS: tuple[None, None] = (None, None)


def _header(value: Any, limit: int) -> str | None:
    if type(value) is not str or not 0 < len(value) <= limit or not _VISIBLE.fullmatch(value):
        return None
    return value


_VISIBLE = re.compile(r"[\x20-\x7e]+")


def _staged_rows(batch: SeenBatch, last_at_url: dict[str, str], observed: set[str]) -> list[tuple]:
    """One row per item in `staging.COLUMNS` order, ending early where the rest is NULL (plain
    tuples: the stage is filled by COPY).
    One loop with the batch's lookups bound to locals: this runs for every item of every day."""
    before, hashes, accounts, stores, snapshot_keys = (
        batch.before,
        batch.hashes,
        batch.accounts,
        batch.stores,
        batch.snapshot_keys,
    )
    rows = []
    for seq, it in enumerate(batch.items):
        key, url, evidence, seller, shop = it.listing_key, it.url, it.evidence, it.seller_key, it.store_key
        snap = key in snapshot_keys
        known = before.get(key)
        cited = (
            (evidence.warc_file, evidence.record_id, evidence.sha256, evidence.target_uri or None)
            if evidence
            else NO_CITATION
        )
        row = (
            seq,
            key,
            known.id if known else None,
            url,
            hashes[key],
            accounts.get(seller) if seller is not None else None,
            stores.get(shop) if shop is not None else None,
            it.http_status,
            *cited,
            int(known is None),
            int(snap),
            0 if last_at_url[url] != key else (OBS_UPDATE if url in observed else OBS_INSERT),
        )
        # The row stops early where the rest would be NULL (`staging.ROW_LENGTHS`).
        checked = validators(it)
        if snap:
            row += checked + _content(it)
        elif checked != NO_VALIDATORS:
            row += checked
        rows.append(row)
    return rows


NO_CITATION: tuple[None, None, None, None] = (None,) * 4


def _content(it: ListingItem) -> tuple:
    """A snapshot's columns of the stage, for an item whose content is new."""
    return (
        it.title,
        it.text,
        it.seller_name,
        json_strings(sorted(set(it.contacts))),
        it.lang,
        it.price,
        it.currency,
        it.posted_at,
        _signals_json(it.offer_signals),
    )


class _StageWrites(NamedTuple):
    """The set-based statements that write a staged batch, built once per dialect: building them
    per batch cost SQLAlchemy more than SQLite spent running several of them. Parameters: pid,
    day, run_id (all), floor (new_listing_range), low and high (first_seen)."""

    max_listing_id: Select
    new_listings: Insert
    new_listing_range: Select
    stage_listing_ids: Update
    snapshots: Insert
    sightings: Insert
    sightings_again: Update
    first_seen: Insert


def _new_listing_rows(pid, day) -> tuple[list[str], Select]:
    """The staged new listings, as `listings` rows in staging order."""
    stage, first = STAGE, ev.FIRST_SEEN
    columns = [
        "platform_id",
        "listing_key",
        "url",
        "title",
        "account_id",
        "store_id",
        "first_seen_on",
        "last_seen_on",
        "content_sha256",
        "presence",
        "review",
        "etag",
        "last_modified",
    ]
    rows = (
        select(
            pid,
            stage.c.listing_key,
            stage.c.url,
            stage.c.title,
            stage.c.account_id,
            stage.c.store_id,
            day,
            day,
            stage.c.content_sha256,
            literal(first.presence, String()),
            literal(first.review, String()),
            stage.c.etag,
            stage.c.last_modified,
        )
        .where(stage.c.fresh == 1)
        .order_by(stage.c.seq)
    )
    return columns, rows


def _snapshot_rows(day, cited: list) -> tuple[list[str], Select]:
    """The staged pages whose content is new, as `snapshots` rows in staging order."""
    stage = STAGE
    columns = [
        "listing_id",
        "content_sha256",
        "seen_on",
        "title",
        "text",
        "lang",
        "price",
        "currency",
        "seller_name",
        "contacts",
        "posted_at",
        "offer_signals",
        *ev.EVIDENCE_FIELDS,
    ]
    rows = (
        select(
            stage.c.listing_id,
            stage.c.content_sha256,
            day,
            stage.c.title,
            stage.c.text,
            stage.c.lang,
            stage.c.price,
            stage.c.currency,
            stage.c.seller_name,
            stage.c.contacts,
            stage.c.posted_at,
            stage.c.offer_signals,
            *cited,
        )
        .where(stage.c.snap == 1)
        .order_by(stage.c.seq)
    )
    return columns, rows


def _sighting_facts() -> dict[str, Any]:
    """What a live sighting records, column by column of `observations`."""
    stage = STAGE
    return {
        "listing_id": stage.c.listing_id,
        "kind": literal(ObservationKind.SEEN, String()),
        "gone_reason": literal(None, String()),
        "http_status": stage.c.http_status,
        "content_sha256": stage.c.content_sha256,
        "evidence_file": stage.c.evidence_file,
        "evidence_record": stage.c.evidence_record,
        "evidence_sha256": stage.c.evidence_sha256,
        "evidence_uri": stage.c.evidence_uri,
    }


def _first_sightings(pid, run_id, cited: list) -> Select:
    """Per listing created in this batch (ids low..high): its owners, sighting and snapshot."""
    stage = STAGE
    return (
        select(pid, stage.c.account_id, stage.c.store_id, stage.c.listing_id, *cited, Observation.id, Snapshot.id)
        .select_from(stage)
        # by (listing, run): a new listing has exactly one sighting in this run, and the integer
        # index is cheaper than the (run, URL) one
        .outerjoin(Observation, and_(Observation.listing_id == stage.c.listing_id, Observation.crawl_run_id == run_id))
        .outerjoin(
            Snapshot, and_(Snapshot.listing_id == stage.c.listing_id, Snapshot.content_sha256 == stage.c.content_sha256)
        )
        .where(stage.c.fresh == 1, stage.c.listing_id.between(bindparam("low"), bindparam("high")))
        .order_by(stage.c.listing_id)
    )


@functools.cache  # built once per dialect: the statements only take bind parameters
def _stage_writes(dialect: str) -> _StageWrites:
    stage = STAGE
    cited = [stage.c[name] for name in ev.EVIDENCE_FIELDS]  # the WARC record a row's page is kept in
    pid, day, run_id = (
        bindparam("pid", type_=BigInteger()),
        bindparam("day", type_=Date()),
        bindparam("run_id", type_=BigInteger()),
    )
    listing_columns, new_rows = _new_listing_rows(pid, day)
    snapshot_columns, snapshot_rows = _snapshot_rows(day, cited)
    # Plain inserts rather than one `ON CONFLICT DO UPDATE`: with foreign keys on, SQLite's upsert
    # into observations (events reference it) cost twice an insert when replaying a 100k-listing
    # day. A rerun's sightings (obs = OBS_UPDATE) are overwritten in place instead.
    facts = _sighting_facts()
    sighting_rows = select(run_id, stage.c.url, *facts.values()).where(stage.c.obs == OBS_INSERT).order_by(stage.c.seq)
    observations = cast(Table, Observation.__table__)
    first_sightings = _first_sightings(pid, run_id, cited)

    return _StageWrites(
        max_listing_id=select(func.coalesce(func.max(Listing.id), 0)),
        new_listings=insert_for(dialect, Listing).from_select(listing_columns, new_rows).on_conflict_do_nothing(),
        new_listing_range=select(func.min(Listing.id), func.max(Listing.id), func.count()).where(
            Listing.id > bindparam("floor"), Listing.platform_id == pid
        ),
        # A join, not a correlated subquery: PostgreSQL, with statistics that predate this crawl,
        # planned the subquery as a scan of the platform's listings per staged row (quadratic).
        stage_listing_ids=update(stage)
        .where(stage.c.listing_id.is_(None), Listing.platform_id == pid, Listing.listing_key == stage.c.listing_key)
        .values(listing_id=Listing.id),
        snapshots=insert_for(dialect, Snapshot).from_select(snapshot_columns, snapshot_rows).on_conflict_do_nothing(),
        sightings=insert_for(dialect, Observation)
        .from_select(["crawl_run_id", "url", *facts], sighting_rows)
        .on_conflict_do_nothing(),
        sightings_again=update(observations)
        .where(observations.c.crawl_run_id == run_id, observations.c.url == stage.c.url, stage.c.obs == OBS_UPDATE)
        .values(**facts),
        first_seen=ev.first_seen_insert(first_sightings),
    )


def _insert_new_listings(conn: Connection, writes: _StageWrites, params: dict[str, Any]) -> NewListings | None:
    """Insert the staged new listings; return the range of ids of the rows created.

    New rows get ids above every id committed before the insert (SQLite rowids and PostgreSQL
    sequences only grow), so one range scan finds them. A key another writer inserted meanwhile is
    skipped (ON CONFLICT DO NOTHING) and keeps that writer's row and first_seen event.
    """
    floor = conn.scalar(writes.max_listing_id)
    conn.execute(writes.new_listings, params)
    low, high, count = conn.execute(writes.new_listing_range, {**params, "floor": floor}).one()
    conn.execute(writes.stage_listing_ids, params)
    return NewListings(low, high, count) if count else None


def _ingest_gone(session: Session, run_id: int, pid: int, items: list[GoneItem], summary: IngestSummary) -> None:
    by_key: dict[str, int] = {}
    keys = [g.listing_key for g in items if g.listing_key]
    if keys:
        by_key.update(
            session.connection()
            .execute(
                select(Listing.listing_key, Listing.id).where(
                    Listing.platform_id == pid, one_of(session, Listing.listing_key, keys)
                )
            )
            .all()
        )
    by_url: dict[str, int] = {}
    urls = [g.url for g in items if not g.listing_key]
    if urls:
        by_url.update(
            session.connection()
            .execute(
                select(Listing.url, Listing.id).where(Listing.platform_id == pid, one_of(session, Listing.url, urls))
            )
            .all()
        )
    rows = []
    for g in items:
        lid = by_key.get(g.listing_key) if g.listing_key else by_url.get(g.url)
        if lid is None:
            summary.gone_unknown += 1
        rows.append(_observation(run_id, lid, g.url, ObservationKind.GONE, g.reason, g.http_status, None, g.evidence))
    _write_gone_observations(session, run_id, rows)


def _ingest_unchanged(
    session: Session, run_id: int, pid: int, items: list[UnchangedItem], summary: IngestSummary
) -> None:
    """304 answers: a live sighting of each listing's last snapshot (its content hash), citing the
    304's own WARC record. No snapshot is written: the content is the one already stored."""
    if not items:
        return
    known = {
        url: (lid, sha)
        for url, lid, sha in session.connection().execute(
            select(Listing.url, Listing.id, Listing.content_sha256).where(
                Listing.platform_id == pid, one_of(session, Listing.url, [it.url for it in items])
            )
        )
    }
    rows = []
    for it in items:
        if it.url not in known:
            summary.unchanged_unknown += 1
            continue
        lid, sha = known[it.url]
        rows.append(_observation(run_id, lid, it.url, ObservationKind.SEEN, None, it.http_status, sha, it.evidence))
    summary.unchanged += len(rows)
    _write_gone_observations(session, run_id, rows)


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
        "evidence_uri": (evidence.target_uri or None) if evidence else None,
    }


def _cites(evidence: Evidence | None) -> ev.Citation:
    """An event's evidence keywords from an item's evidence (all None without one)."""
    if evidence is None:
        return ev.cited(None, None, None, None)
    return ev.cited(evidence.sha256, evidence.warc_file, evidence.record_id, evidence.target_uri or None)


def _write_gone_observations(session: Session, run_id: int, rows: list[dict[str, Any]]) -> None:
    """Gone pages' (and 304 sightings') observations, one per (run, URL): inserted, or updated by id on a rerun (plain
    inserts for the reason given in `_stage_writes`, which writes the live sightings)."""
    if not rows:
        return
    by_url = {r["url"]: r for r in rows}  # one row per URL; the later item wins
    existing = dict(
        session.connection()
        .execute(
            select(Observation.url, Observation.id).where(
                Observation.crawl_run_id == run_id, one_of(session, Observation.url, list(by_url))
            )
        )
        .all()
    )
    executemany(
        session,
        _insert(session, Observation).on_conflict_do_nothing(),
        [r for u, r in by_url.items() if u not in existing],
    )
    again = [{**r, "b_id": existing[u]} for u, r in by_url.items() if u in existing]
    if again:
        table = cast(Table, Observation.__table__)
        values: dict[str, BindParameter[Any]] = {k: bindparam(k) for k in rows[0] if k not in ("crawl_run_id", "url")}
        session.connection().execute(table.update().where(table.c.id == bindparam("b_id")).values(**values), again)
