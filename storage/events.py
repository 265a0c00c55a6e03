"""The only writer of `events`: every listing event goes through the state machine first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from storage.crawls import bulk_execute
from storage.errors import IllegalTransition, UnknownEntity
from storage.models import Event, Listing
from storage.state import ENTITY_EVENTS, UNSEEN, State, next_state
from storage.types import logical_ts


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


def _states(session: Session, ids: Iterable[int]) -> dict[int, State]:
    states: dict[int, State] = {}
    for chunk in _chunks(sorted(ids), 900):
        for lid, presence, review in session.execute(
            select(Listing.id, Listing.presence, Listing.review).where(Listing.id.in_(chunk))
        ):
            states[lid] = State(presence, review)
    return states


def plan(session: Session, events: Sequence[NewEvent]) -> dict[int, State]:
    """Check every event against the state machine; return the final state per listing.

    Raises IllegalTransition before anything is written, so a bad batch leaves no trace.
    """
    ids = {e.listing_id for e in events if e.listing_id is not None}
    states = _states(session, ids)
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
    states = plan(session, events)
    owners = _owners(session, states.keys())
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
    before = _states(session, states.keys())
    with session.begin_nested():
        bulk_execute(session, insert(Event.__table__), rows)
        by_state: dict[tuple[str, str], list[int]] = {}
        for lid, st in states.items():
            if before.get(lid) != st:
                by_state.setdefault((st.presence, st.review), []).append(lid)
        for (presence, review), lids in by_state.items():
            for chunk in _chunks(lids, 900):
                session.execute(
                    update(Listing)
                    .where(Listing.id.in_(chunk))
                    .values(presence=presence, review=review)
                    .execution_options(synchronize_session=False)
                )


def append_first_seen(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk-write first_seen events for listing rows ingest has just created in state FIRST_SEEN.

    Each row: listing_id, platform_id, account_id, store_id, on, evidence_sha256, observation_id.
    """
    if not rows:
        return
    bulk_execute(
        session,
        insert(Event.__table__),
        [
            {
                "kind": "first_seen",
                "occurred_on": r["on"],
                "occurred_at": logical_ts(r["on"]),
                "platform_id": r["platform_id"],
                "account_id": r.get("account_id"),
                "store_id": r.get("store_id"),
                "listing_id": r["listing_id"],
                "cause": None,
                "evidence_sha256": r.get("evidence_sha256"),
                "observation_id": r.get("observation_id"),
                "snapshot_id": r.get("snapshot_id"),
                "detection_id": None,
                "review_id": None,
                "notice_id": None,
                "related_listing_id": None,
                "details": {},
            }
            for r in rows
        ],
    )


def _owners(session: Session, ids: Iterable[int]) -> dict[int, tuple[int, int | None, int | None]]:
    out = {}
    for chunk in _chunks(sorted(i for i in ids if i is not None), 900):
        for lid, p, a, s in session.execute(
            select(Listing.id, Listing.platform_id, Listing.account_id, Listing.store_id).where(Listing.id.in_(chunk))
        ):
            out[lid] = (p, a, s)
    return out


def listing_kinds(session: Session, listing_id: int) -> list[str]:
    return list(
        session.scalars(select(Event.kind).where(Event.listing_id == listing_id).order_by(Event.id))
    )


def _chunks(seq: Sequence, size: int):
    seq = list(seq)
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
