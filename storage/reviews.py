"""Analyst review decisions on flagged listings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from storage import events as ev
from storage.models import Listing, Review

DECISIONS = ("confirmed", "dismissed")


def record_review(
    session: Session, listing_id: int, decision: str, reviewer: str, note: str | None, at: dt.datetime
) -> int:
    """Record a decision on a flagged listing and its event; IllegalTransition if not flagged."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, got {decision!r}")
    if not reviewer:
        raise ValueError("reviewer must be named")
    if at.tzinfo is None:
        raise ValueError("review time must be timezone-aware UTC")
    ev.plan(session, [ev.NewEvent(decision, listing_id, at.date(), at=at)])  # raises before any write
    with session.begin_nested():
        review_id = session.execute(
            insert(Review).values(listing_id=listing_id, decision=decision, reviewer=reviewer, note=note, decided_at=at)
            .returning(Review.id)
        ).scalar_one()
        ev.append(session, [ev.NewEvent(decision, listing_id, at.date(), at=at, review_id=review_id,
                                        details={"reviewer": reviewer})])
    return review_id


def flagged_unreviewed(session: Session) -> list[int]:
    return list(session.scalars(select(Listing.id).where(Listing.review == "flagged").order_by(Listing.id)))


def auto_confirm_flags(session: Session, day: dt.date) -> int:
    """Demo policy (off by default): confirm every flagged, unreviewed listing as of `day`."""
    from storage.types import logical_ts

    at = logical_ts(day)
    ids = flagged_unreviewed(session)
    for lid in ids:
        record_review(session, lid, "confirmed", "auto-confirm", "demo auto-confirm policy", at)
    return len(ids)

