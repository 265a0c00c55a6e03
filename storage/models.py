"""The tracking database: SQLAlchemy 2.0 models.

What auditors count lives in `events` (append-only); every other table is either a fact we
observed (crawl runs, observations, snapshots, detections, reviews, notices, relist links) or a
cache of what the events imply (`listings.presence` / `listings.review`, kept in step by
`storage.events.append`, the only writer of events).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    or_,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from precursor_watch.storage.kinds import (
    EventKind,
    GoneReason,
    NoticeStatus,
    ObservationKind,
    Presence,
    QuarantineKind,
    RelistMethod,
    RemovalCause,
    ReviewDecision,
    ReviewState,
    UserRole,
    values,
)
from precursor_watch.storage.types import BigID, intpk, json, sha256, str40, str200, utcts

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Widths of the columns that hold page text: what real pages carry, with room to spare (BCP 47
# allows language tags of 35 characters). Ingest refuses, per item, a value longer than these.
KEY_LEN = 512
NAME_LEN = 512
LANG_LEN = 35
SHOWN_LEN = 200
CURRENCY_LEN = 32
VALIDATOR_LEN = 64  # an HTTP date is 29 characters


def _fk(target: str, **kw: Any) -> Any:
    return mapped_column(BigID, ForeignKey(target, ondelete="RESTRICT"), **kw)


def closed_set(kind: type[StrEnum], name: str, length: int) -> Enum:
    """A text column of `length` holding a value of `kind`: the database refuses any other through
    the CHECK constraint `ck_<table>_<name>` (named by the naming convention above)."""
    return Enum(
        kind,
        name=name,
        native_enum=False,
        values_callable=values,
        validate_strings=True,
        create_constraint=False,  # added by `_closed_set_checks`, as comparisons
        length=length,
    )


def _closed_set_checks(metadata: MetaData) -> None:
    """The CHECK of every closed-set column, `ck_<table>_<column>`, written `column = 'a' OR column
    = 'b' ...`: SQLite evaluates an `IN (...)` list in a CHECK by building it anew for every row,
    about 2 µs a row per column, while the comparisons cost almost nothing (migration 0015)."""
    for table in metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, Enum):
                check = or_(*(column == value for value in column.type.enums))
                table.append_constraint(CheckConstraint(check, name=column.name))


class Platform(Base):
    __tablename__ = "platforms"
    id: Mapped[intpk]
    name: Mapped[str40] = mapped_column(unique=True, comment="platform name as in ListingItem.platform")
    closed_on: Mapped[dt.date | None] = mapped_column(Date, comment="logical date its closure was observed")


class Account(Base):
    """A seller account on one platform."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform_id", "account_key"),)
    id: Mapped[intpk]
    platform_id: Mapped[int] = _fk("platforms.id")
    account_key: Mapped[str] = mapped_column(String(KEY_LEN), comment="the platform's own seller id")
    name: Mapped[str | None] = mapped_column(String(NAME_LEN))
    closed_on: Mapped[dt.date | None] = mapped_column(Date)


class Store(Base):
    __tablename__ = "stores"
    __table_args__ = (UniqueConstraint("platform_id", "store_key"),)
    id: Mapped[intpk]
    platform_id: Mapped[int] = _fk("platforms.id")
    store_key: Mapped[str] = mapped_column(String(KEY_LEN), comment="the platform's own store id")
    closed_on: Mapped[dt.date | None] = mapped_column(Date)


class Listing(Base):
    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("platform_id", "listing_key"),
        Index("ix_listings_platform_presence", "platform_id", "presence"),
        Index("ix_listings_url", "url"),
        Index("ix_listings_review", "review", "id"),  # the console's queue: flagged listings by id
    )
    id: Mapped[intpk]
    platform_id: Mapped[int] = _fk("platforms.id")
    listing_key: Mapped[str200] = mapped_column(comment="the platform's own listing id")
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int | None] = _fk("accounts.id", index=True)
    store_id: Mapped[int | None] = _fk("stores.id", index=True)
    first_seen_on: Mapped[dt.date] = mapped_column(Date)
    last_seen_on: Mapped[dt.date] = mapped_column(Date, comment="latest crawl date with a live sighting")
    content_sha256: Mapped[sha256] = mapped_column(comment="hash of the latest snapshot")
    etag: Mapped[str | None] = mapped_column(
        Text, comment="ETag of the last live 200 answer, as sent; null = none sent (or not seen since)"
    )
    last_modified: Mapped[str | None] = mapped_column(
        String(VALIDATOR_LEN), comment="Last-Modified of the last live 200 answer, as sent"
    )
    presence: Mapped[Presence] = mapped_column(
        closed_set(Presence, "presence", 16),
        comment="cache of the state machine: active | removed (derived from events)",
    )
    review: Mapped[ReviewState] = mapped_column(
        closed_set(ReviewState, "review", 16),
        comment="cache of the state machine: none | flagged | confirmed | dismissed | reported",
    )


class CrawlRun(Base):
    """One crawl of one platform for one logical date; rerunning the date reuses the row."""

    __tablename__ = "crawl_runs"
    __table_args__ = (UniqueConstraint("platform_id", "crawl_date"),)
    id: Mapped[intpk]
    platform_id: Mapped[int] = _fk("platforms.id")
    crawl_date: Mapped[dt.date] = mapped_column(Date)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    pages: Mapped[int] = mapped_column(Integer, default=0, comment="fetch attempts, failed ones included")
    items: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[json] = mapped_column(comment="failed fetches by kind, e.g. {'http_5xx': 3}")
    error_rate: Mapped[float] = mapped_column(Float, default=0.0, comment="failed fetches / pages")
    healthy: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        comment="closed and error_rate <= threshold at close; only healthy runs count toward absence",
    )
    discovery: Mapped[dict | None] = mapped_column(
        JSON,
        nullable=True,
        comment="how the crawl found listings: {'mode': search|full|sweep, 'queries', 'capped', "
        "'search_keys' (sweep: listing keys search also reached)}; null = before discovery modes",
    )


class Observation(Base):
    """One sighting (live page) or gone page of a URL in a crawl run, with its evidence."""

    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("crawl_run_id", "url"),
        Index("ix_observations_listing_run", "listing_id", "crawl_run_id"),
    )
    id: Mapped[intpk]
    crawl_run_id: Mapped[int] = _fk("crawl_runs.id")
    listing_id: Mapped[int | None] = _fk("listings.id", comment="null for a gone page of a listing never seen alive")
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[ObservationKind] = mapped_column(closed_set(ObservationKind, "kind", 8), comment="seen | gone")
    gone_reason: Mapped[GoneReason | None] = mapped_column(
        closed_set(GoneReason, "gone_reason", 20), comment="GoneItem.reason for kind=gone"
    )
    http_status: Mapped[int | None] = mapped_column(Integer)
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    evidence_file: Mapped[str | None] = mapped_column(Text, comment="WARC file relative to the data dir")
    evidence_record: Mapped[str | None] = mapped_column(Text, comment="WARC-Record-ID")
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), comment="SHA-256 of the HTTP payload")
    evidence_uri: Mapped[str | None] = mapped_column(
        Text, comment="WARC-Target-URI of the cited record (the final URL of a live page)"
    )


class Snapshot(Base):
    """Listing content, stored once per distinct content hash."""

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("listing_id", "content_sha256"),)
    id: Mapped[intpk]
    listing_id: Mapped[int] = _fk("listings.id")
    content_sha256: Mapped[sha256]
    seen_on: Mapped[dt.date] = mapped_column(Date, comment="crawl date this content was first seen")
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(LANG_LEN), comment="BCP 47 tag as declared, e.g. zh-Hans-CN")
    price: Mapped[str | None] = mapped_column(String(SHOWN_LEN), comment="as shown on the page")
    currency: Mapped[str | None] = mapped_column(String(CURRENCY_LEN), comment="as shown on the page")
    seller_name: Mapped[str | None] = mapped_column(String(NAME_LEN))
    contacts: Mapped[json] = mapped_column(comment="normalised contact handles found on the page")
    posted_at: Mapped[str | None] = mapped_column(String(SHOWN_LEN), comment="as shown on the page")
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), comment="payload hash of the page it came from")
    evidence_file: Mapped[str | None] = mapped_column(Text, comment="WARC file of that page, relative to the data dir")
    evidence_record: Mapped[str | None] = mapped_column(Text, comment="WARC-Record-ID of that page")
    evidence_uri: Mapped[str | None] = mapped_column(Text, comment="WARC-Target-URI of that page")
    offer_signals: Mapped[dict | None] = mapped_column(
        JSON,
        nullable=True,
        comment=(
            "page evidence of an offer: price, add_to_cart, inquiry, seller, schema_offer (booleans); null = unknown"
        ),
    )


class Detection(Base):
    __tablename__ = "detections"
    __table_args__ = (UniqueConstraint("snapshot_id", "model_version"),)
    id: Mapped[intpk]
    snapshot_id: Mapped[int] = _fk("snapshots.id")
    model_version: Mapped[str40]
    flagged: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    substances: Mapped[json] = mapped_column(comment="primary CAS ids (or dicts with an 'id')")
    reasons: Mapped[json]


class DetectionFailure(Base):
    """A snapshot the detector could not judge on a logical date. It has no detection, so the next
    detect run tries it again; these rows stay as the record of what failed and why."""

    __tablename__ = "detection_failures"
    __table_args__ = (UniqueConstraint("snapshot_id", "model_version", "failed_on"),)
    id: Mapped[intpk]
    snapshot_id: Mapped[int] = _fk("snapshots.id")
    model_version: Mapped[str40]
    failed_on: Mapped[dt.date] = mapped_column(Date, comment="logical date of the detect run")
    reason: Mapped[str] = mapped_column(Text, comment="the exception, as text")


class Review(Base):
    __tablename__ = "reviews"
    id: Mapped[intpk]
    listing_id: Mapped[int] = _fk("listings.id", index=True)
    decision: Mapped[ReviewDecision] = mapped_column(
        closed_set(ReviewDecision, "decision", 16), comment="confirmed | dismissed"
    )
    reviewer: Mapped[str200]
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[utcts]
    automated: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        comment="decided by a policy (demo auto-confirm), not by a person",
    )


class Notice(Base):
    __tablename__ = "notices"
    id: Mapped[intpk]
    platform_id: Mapped[int] = _fk("platforms.id")
    idempotency_key: Mapped[str200] = mapped_column(unique=True)
    legal_basis: Mapped[str] = mapped_column(Text)
    channel: Mapped[str40] = mapped_column(comment="e.g. http, email, export")
    sent_at: Mapped[utcts]
    ticket: Mapped[str | None] = mapped_column(String(200), comment="platform's ticket id from its answer")
    response: Mapped[json] = mapped_column(comment="platform's answer as received")
    status: Mapped[NoticeStatus] = mapped_column(
        closed_set(NoticeStatus, "status", 16),
        default=NoticeStatus.PENDING,
        server_default=NoticeStatus.PENDING.value,
        comment="pending | sent | failed (failed ones are re-sent on a later run)",
    )
    failure: Mapped[str | None] = mapped_column(Text, comment="why the last delivery attempt failed, in one line")


class NoticeListing(Base):
    __tablename__ = "notice_listings"
    notice_id: Mapped[int] = _fk("notices.id", primary_key=True)
    listing_id: Mapped[int] = _fk("listings.id", primary_key=True)


class RelistLink(Base):
    __tablename__ = "relist_links"
    __table_args__ = (UniqueConstraint("new_listing_id"),)
    id: Mapped[intpk]
    original_listing_id: Mapped[int] = _fk("listings.id", index=True)
    new_listing_id: Mapped[int] = _fk("listings.id")
    method: Mapped[RelistMethod] = mapped_column(
        closed_set(RelistMethod, "method", 24), comment="text | contact | account_substances"
    )
    similarity: Mapped[float] = mapped_column(
        Float, comment="estimated Jaccard for text, shared-handle Jaccard for contact, 1.0 otherwise"
    )
    detected_on: Mapped[dt.date] = mapped_column(Date)


class Event(Base):
    """Append-only log; the only source of statistics. Written only by `storage.events`."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_kind_on", "kind", "occurred_on"),
        Index("ix_events_listing_id", "listing_id", "id"),
    )
    id: Mapped[intpk]
    kind: Mapped[EventKind] = mapped_column(closed_set(EventKind, "kind", 20))
    occurred_on: Mapped[dt.date] = mapped_column(Date, comment="logical date")
    occurred_at: Mapped[utcts] = mapped_column(comment="derived from the logical date, never wall clock")
    platform_id: Mapped[int] = _fk("platforms.id")
    account_id: Mapped[int | None] = _fk("accounts.id")
    store_id: Mapped[int | None] = _fk("stores.id")
    listing_id: Mapped[int | None] = _fk("listings.id", comment="null for account/store/platform closures")
    cause: Mapped[RemovalCause | None] = mapped_column(
        closed_set(RemovalCause, "cause", 20), comment="removal cause, e.g. not_found, silent, account_closed"
    )
    evidence_sha256: Mapped[str | None] = mapped_column(
        String(64), comment="payload hash of the page that evidences the event"
    )
    evidence_file: Mapped[str | None] = mapped_column(Text, comment="WARC file of that page, relative to the data dir")
    evidence_record: Mapped[str | None] = mapped_column(
        Text, comment="WARC-Record-ID of that page: tells identical bodies apart"
    )
    evidence_uri: Mapped[str | None] = mapped_column(Text, comment="WARC-Target-URI of that page")
    observation_id: Mapped[int | None] = _fk("observations.id")
    snapshot_id: Mapped[int | None] = _fk("snapshots.id")
    detection_id: Mapped[int | None] = _fk("detections.id")
    review_id: Mapped[int | None] = _fk("reviews.id")
    notice_id: Mapped[int | None] = _fk("notices.id")
    related_listing_id: Mapped[int | None] = _fk("listings.id", comment="relisted_as: the new listing")
    details: Mapped[json]


class Quarantine(Base):
    """An item ingest refused (a field it cannot store) or a live page whose item could not be
    built: kept with its reason and evidence so it is counted and shown, never silently lost. One
    row per run and URL: a rerun replaces it, or deletes it once the item is stored."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("crawl_run_id", "url"),)
    id: Mapped[intpk]
    crawl_run_id: Mapped[int] = _fk("crawl_runs.id")
    platform_id: Mapped[int] = _fk("platforms.id")
    url: Mapped[str] = mapped_column(Text)
    listing_key: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[QuarantineKind] = mapped_column(
        closed_set(QuarantineKind, "kind", 24),
        comment="invalid_field | too_long | extraction | storage_error | layout_drift",
    )
    field: Mapped[str | None] = mapped_column(String(40), comment="the item field at fault, when one is")
    message: Mapped[str] = mapped_column(Text)
    evidence_file: Mapped[str | None] = mapped_column(Text, comment="WARC file relative to the data dir")
    evidence_record: Mapped[str | None] = mapped_column(Text, comment="WARC-Record-ID")
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), comment="SHA-256 of the HTTP payload")


class LedgerLeaf(Base):
    """One event in the tamper-evident log (precursor_watch.ledger, docs/LEDGER.md): its place in
    append order and the canonical encoding its leaf hash is taken over. No foreign key on purpose:
    the log must be able to say that a logged event was deleted."""

    __tablename__ = "ledger_leaves"
    leaf_index: Mapped[int] = mapped_column(
        BigID, primary_key=True, autoincrement=False, comment="0-based position in append order"
    )
    event_id: Mapped[int] = mapped_column(BigID, unique=True, comment="events.id of the logged event")
    leaf_hash: Mapped[sha256] = mapped_column(comment="RFC 9162 leaf hash: SHA-256(0x00 || leaf_data)")
    leaf_data: Mapped[str] = mapped_column(Text, comment="the event's canonical encoding when it was logged")


class LedgerHead(Base):
    """A signed tree head: the log's size and root after a daily run, signed with Ed25519."""

    __tablename__ = "ledger_heads"
    __table_args__ = (UniqueConstraint("head_date", "tree_size"),)
    id: Mapped[intpk]
    head_date: Mapped[dt.date] = mapped_column(Date, comment="logical date of the run that sealed the log")
    tree_size: Mapped[int] = mapped_column(BigID, comment="leaves covered")
    root_hash: Mapped[sha256] = mapped_column(comment="Merkle tree hash of the first tree_size leaves, hex")
    key_id: Mapped[str] = mapped_column(String(64), comment="SHA-256 of the raw Ed25519 public key, hex")
    signature: Mapped[str] = mapped_column(String(128), comment="Ed25519 signature of the head's statement, hex")
    frontier: Mapped[str | None] = mapped_column(
        Text, comment="hex of the roots of the perfect subtrees of the tree at this size, largest first"
    )


class WarcRecord(Base):
    """Where one archived response record lies in its WARC file (the gzip member's offset and
    length), so evidence is read with one seek instead of a scan. Written when the item citing it
    is stored; a cited record without a row here is found by scanning its file."""

    __tablename__ = "warc_records"
    warc_file: Mapped[str] = mapped_column(Text, primary_key=True, comment="WARC file relative to the data dir")
    record_id: Mapped[str] = mapped_column(Text, primary_key=True, comment="WARC-Record-ID of the response record")
    record_offset: Mapped[int] = mapped_column(BigID, comment="byte offset of its gzip member in the file")
    record_length: Mapped[int] = mapped_column(BigID, comment="byte length of its gzip member")


class User(Base):
    """A console user. The password is kept only as a salted scrypt hash (`console.passwords`)."""

    __tablename__ = "users"
    id: Mapped[intpk]
    name: Mapped[str200] = mapped_column(unique=True, comment="login name, also the reviewer name of decisions")
    role: Mapped[UserRole] = mapped_column(closed_set(UserRole, "role", 16), comment="analyst | auditor | admin")
    password_hash: Mapped[str] = mapped_column(Text, comment="scrypt$n$r$p$salt$hash (hex); never the password")
    disabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), comment="a disabled user cannot log in"
    )
    created_at: Mapped[utcts]


_closed_set_checks(Base.metadata)
