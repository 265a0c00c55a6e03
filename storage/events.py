"""The only writer of `events`: every listing event goes through the state machine first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from sqlalchemy import JSON, Date, String, and_, insert, literal, select, update
from sqlalchemy.orm import Session

from storage.bulk import executemany, one_of
from storage.errors import IllegalTransition, UnknownEntity
from storage.models import Event, Listing, Observation, Snapshot
from storage.state import ENTITY_EVENTS, UNSEEN, State, next_state
from storage.types import UTCDateTime, logical_ts


@dataclass
class NewEvent:
    kind: str
    listing_id: int | None
    on: dt.date
    at: dt.datetime | None = None  # default: the logical date's timestamp
    platform_id: int | None = None  # needed for entity events; taken from the listing otherwise
    account_id: int | None = None
    store_id: int | None = None
    cause: str | None = None
    evidence_sha256: str | None = None
    observation_id: int | None = None
    snapshot_id: int | None = None
    detection_id: int | None = None
    review_id: int | None = None
    notice_id: int | None = None
    related_listing_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


FIRST_SEEN = next_state(UNSEEN, "first_seen")  # the state ingest gives a listing row it creates


def _listings(session: Session, ids: Iterable[int]) -> dict[int, tuple[State, tuple[int, int | None, int | None]]]:
    """Cached state and owners (platform, account, store) of each listing, in one query."""
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    rows = session.execute(
        select(Listing.id, Listing.presence, Listing.review, Listing.platform_id, Listing.account_id, Listing.store_id)
        .where(one_of(session, Listing.id, ids))
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
    owners = {lid: owner for lid, (_state, owner) in known.items()}
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
                "evidence_sha256": e.evidence_sha256,
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
        executemany(session, insert(Event.__table__), rows)
        by_state: dict[tuple[str, str], list[int]] = {}
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


def append_first_seen(
    session: Session, run_id: int, platform_id: int, day: dt.date, listing_ids: Sequence[int]
) -> None:
    """Write first_seen events for the listing rows ingest has just created (in state FIRST_SEEN).

    Set-based (INSERT .. SELECT): each event is built from the listing row, its sighting in crawl
    run `run_id` (observation id and the page's evidence hash) and its first snapshot, so no
    per-row parameters travel from Python, and every first_seen points at its evidence. The new
    ids are selected as a range: ids only grow, so the platform's listings in it are exactly the
    ones just created (one writer per platform and date).
    """
    if not listing_ids:
        return
    columns = ["kind", "occurred_on", "occurred_at", "platform_id", "account_id", "store_id", "listing_id",
               "evidence_sha256", "observation_id", "snapshot_id", "details"]

    def sighting(column):  # correlated lookups keep the listing range the driving table
        return (
            select(column)
            .where(Observation.listing_id == Listing.id, Observation.crawl_run_id == run_id, Observation.kind == "seen")
            .order_by(Observation.id)
            .limit(1)
            .scalar_subquery()
        )

    first_snapshot = (
        select(Snapshot.id)
        .where(Snapshot.listing_id == Listing.id, Snapshot.content_sha256 == Listing.content_sha256)
        .scalar_subquery()
    )
    rows = (
        select(
            literal("first_seen", String()), literal(day, Date()), literal(logical_ts(day), UTCDateTime()),
            Listing.platform_id, Listing.account_id, Listing.store_id, Listing.id,
            sighting(Observation.evidence_sha256), sighting(Observation.id), first_snapshot, literal({}, JSON()),
        )
        .where(Listing.id.between(min(listing_ids), max(listing_ids)), Listing.platform_id == platform_id)
        .order_by(Listing.id)
    )
    session.execute(insert(Event.__table__).from_select(columns, rows))


def listing_kinds(session: Session, listing_id: int) -> list[str]:
    return list(
        session.scalars(select(Event.kind).where(Event.listing_id == listing_id).order_by(Event.id))
    )
