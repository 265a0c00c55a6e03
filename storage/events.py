"""The only writer of `events`: every listing event goes through the state machine first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

from sqlalchemy import JSON, Date, Insert, Select, String, Table, bindparam, insert, literal, select, update
from sqlalchemy.orm import Session

from precursor_watch.storage.bulk import executemany, one_of
from precursor_watch.storage.errors import IllegalTransition, UnknownEntity
from precursor_watch.storage.kinds import EventKind, Presence, RemovalCause, ReviewState
from precursor_watch.storage.models import Event, Listing
from precursor_watch.storage.state import ENTITY_EVENTS, UNSEEN, State, next_state
from precursor_watch.storage.types import UTCDateTime, logical_ts


@dataclass
class NewEvent:
    kind: EventKind
    listing_id: int | None
    on: dt.date
    at: dt.datetime | None = None  # default: the logical date's timestamp
    platform_id: int | None = None  # needed for entity events; taken from the listing otherwise
    account_id: int | None = None
    store_id: int | None = None
    cause: RemovalCause | None = None
    evidence_sha256: str | None = None  # the cited page: payload hash, WARC file, record id, target URI
    evidence_file: str | None = None
    evidence_record: str | None = None
    evidence_uri: str | None = None
    observation_id: int | None = None
    snapshot_id: int | None = None
    detection_id: int | None = None
    review_id: int | None = None
    notice_id: int | None = None
    related_listing_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


EVIDENCE_FIELDS = ("evidence_sha256", "evidence_file", "evidence_record", "evidence_uri")


class Citation(TypedDict):
    """NewEvent keywords naming one WARC record; typed so `NewEvent(..., **cited(...))` checks."""

    evidence_sha256: str | None
    evidence_file: str | None
    evidence_record: str | None
    evidence_uri: str | None


def cited(sha256: str | None, warc_file: str | None, record_id: str | None, target_uri: str | None) -> Citation:
    """NewEvent keywords naming one WARC record (hash, file, record id, target URI)."""
    return Citation(evidence_sha256=sha256, evidence_file=warc_file, evidence_record=record_id, evidence_uri=target_uri)


FIRST_SEEN = next_state(UNSEEN, EventKind.FIRST_SEEN)  # the state ingest gives a listing row it creates


def _listings(
    session: Session, ids: Iterable[int | None]
) -> dict[int, tuple[State, tuple[int, int | None, int | None]]]:
    """Cached state and owners (platform, account, store) of each listing, in one query."""
    present = [i for i in ids if i is not None]
    if not present:
        return {}
    rows = session.execute(
        select(
            Listing.id, Listing.presence, Listing.review, Listing.platform_id, Listing.account_id, Listing.store_id
        ).where(one_of(session, Listing.id, present))
    )
    return {lid: (State(presence, review), (p, a, s)) for lid, presence, review, p, a, s in rows}


def _states(session: Session, ids: Iterable[int]) -> dict[int, State]:
    return {lid: state for lid, (state, _owners) in _listings(session, ids).items()}


def plan(session: Session, events: Sequence[NewEvent], current: dict[int, State] | None = None) -> dict[int, State]:
    """Check every event against the state machine; return the final state per listing.

    `current`: the listings' states already read in this transaction (read here otherwise).
    Raises IllegalTransition before anything is written, so a bad batch leaves no trace.
    """
    ids = {e.listing_id for e in events if e.listing_id is not None}
    states = dict(current) if current is not None else _states(session, ids)
    missing = ids - states.keys()
    if missing:
        raise UnknownEntity(f"no listing with id {min(missing)}")
    for e in events:
        if e.kind in ENTITY_EVENTS:
            if e.listing_id is not None or e.platform_id is None:
                raise IllegalTransition(f"{e.kind} is an account/store/platform event: needs platform_id, no listing")
            continue
        if e.listing_id is None:
            raise IllegalTransition(f"{e.kind} needs a listing")
        try:
            states[e.listing_id] = next_state(states[e.listing_id], e.kind)
        except IllegalTransition as exc:
            raise IllegalTransition(f"listing {e.listing_id}: {exc}") from None
    return states


def append(session: Session, events: Sequence[NewEvent]) -> None:
    """Validate then write events and the cached state they imply (in a SAVEPOINT: all or nothing).

    `first_seen` is not written here: ingest creates the listing row and its first event together
    (with the state `next_state(UNSEEN, "first_seen")` gives).
    """
    if not events:
        return
    known = _listings(session, {e.listing_id for e in events})
    before = {lid: state for lid, (state, _owner) in known.items()}
    states = plan(session, events, before)
    # keyed by int | None: an entity event without a listing takes its owners from the event itself
    owners: dict[int | None, tuple[int | None, int | None, int | None]] = {
        lid: owner for lid, (_state, owner) in known.items()
    }
    rows = []
    for e in events:
        platform_id, account_id, store_id = owners.get(e.listing_id, (e.platform_id, e.account_id, e.store_id))
        rows.append(
            {
                "kind": e.kind,
                "occurred_on": e.on,
                "occurred_at": e.at or logical_ts(e.on),
                "platform_id": e.platform_id or platform_id,
                "account_id": e.account_id if e.account_id is not None else account_id,
                "store_id": e.store_id if e.store_id is not None else store_id,
                "listing_id": e.listing_id,
                "cause": e.cause,
                **{name: getattr(e, name) for name in EVIDENCE_FIELDS},
                "observation_id": e.observation_id,
                "snapshot_id": e.snapshot_id,
                "detection_id": e.detection_id,
                "review_id": e.review_id,
                "notice_id": e.notice_id,
                "related_listing_id": e.related_listing_id,
                "details": e.details,
            }
        )
    with session.begin_nested():
        executemany(session, insert(cast(Table, Event.__table__)), rows)
        by_state: dict[tuple[Presence | None, ReviewState | None], list[int]] = {}
        for lid, st in states.items():
            if before.get(lid) != st:
                by_state.setdefault((st.presence, st.review), []).append(lid)
        for (presence, review), lids in by_state.items():
            session.execute(
                update(Listing)
                .where(one_of(session, Listing.id, lids))
                .values(presence=presence, review=review)
                .execution_options(synchronize_session=False)
            )


def first_seen_insert(rows: Select) -> Insert:
    """The INSERT of first_seen events for listing rows ingest has just created (in state FIRST_SEEN).

    `rows` selects (platform_id, account_id, store_id, listing_id, evidence_sha256, evidence_file,
    evidence_record, evidence_uri, observation_id, snapshot_id) per new listing: ingest builds it
    from its staging table, so the events are one INSERT .. SELECT with no per-row parameters, and
    each points at its sighting and snapshot.
    Built once (ingest keeps it); run it with `first_seen_params(day)` and `rows`' own parameters.
    """
    columns = [
        "kind",
        "occurred_on",
        "occurred_at",
        "platform_id",
        "account_id",
        "store_id",
        "listing_id",
        *EVIDENCE_FIELDS,
        "observation_id",
        "snapshot_id",
        "details",
    ]
    source = rows.subquery()
    events = select(
        literal(EventKind.FIRST_SEEN, String()),
        bindparam("fs_on", type_=Date()),
        bindparam("fs_at", type_=UTCDateTime()),
        *source.c,
        literal({}, JSON()),
    )
    return insert(cast(Table, Event.__table__)).from_select(columns, events)


def first_seen_params(day: dt.date) -> dict[str, Any]:
    return {"fs_on": day, "fs_at": logical_ts(day)}


def listing_kinds(session: Session, listing_id: int) -> list[EventKind]:
    return list(session.scalars(select(Event.kind).where(Event.listing_id == listing_id).order_by(Event.id)))
