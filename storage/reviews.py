"""Analyst review decisions on flagged listings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from precursor_watch.storage import events as ev
from precursor_watch.storage.kinds import EventKind, ReviewDecision, ReviewState
from precursor_watch.storage.models import CrawlRun, Event, Listing, Review

DECISIONS = tuple(d.value for d in ReviewDecision)


def logical_day(session: Session) -> dt.date | None:
    """The latest logical date the database knows (its latest crawl or event), None when empty."""
    days = [session.scalar(select(func.max(CrawlRun.crawl_date))), session.scalar(select(func.max(Event.occurred_on)))]
    return max((d for d in days if d is not None), default=None)


def _check_date(session: Session, listing_id: int, on: dt.date, latest: dt.date | None) -> None:
    """A decision lies between the listing's flag date and the logical date (never before the
    evidence existed, never in the pipeline's future)."""
    flagged_on = session.scalar(
        select(func.max(Event.occurred_on)).where(Event.listing_id == listing_id, Event.kind == EventKind.FLAGGED)
    )
    latest = latest or logical_day(session)
    if flagged_on is not None and on < flagged_on:
        raise ValueError(f"review date {on} is before the listing was flagged ({flagged_on})")
    if latest is not None and on > latest:
        raise ValueError(f"review date {on} is after the logical date {latest}")


def record_review(
    session: Session,
    listing_id: int,
    decision: ReviewDecision | str,
    reviewer: str,
    note: str | None,
    at: dt.datetime,
    *,
    automated: bool = False,
    latest: dt.date | None = None,
) -> int:
    """Record a decision on a flagged listing and its event; IllegalTransition if not flagged,
    ValueError if `at` is not between the flag date and the logical date (`latest`, default the
    database's latest crawl or event date). `automated`: decided by a policy, not a person."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, got {decision!r}")
    if not reviewer:
        raise ValueError("reviewer must be named")
    if at.tzinfo is None:
        raise ValueError("review time must be timezone-aware UTC")
    ev.plan(session, [ev.NewEvent(EventKind(decision), listing_id, at.date(), at=at)])  # raises before any write
    _check_date(session, listing_id, at.date(), latest)
    with session.begin_nested():
        review_id = session.execute(
            insert(Review)
            .values(
                listing_id=listing_id,
                decision=decision,
                reviewer=reviewer,
                note=note,
                decided_at=at,
                automated=automated,
            )
            .returning(Review.id)
        ).scalar_one()
        ev.append(
            session,
            [
                ev.NewEvent(
                    EventKind(decision),
                    listing_id,
                    at.date(),
                    at=at,
                    review_id=review_id,
                    details={"reviewer": reviewer, "automated": automated},
                )
            ],
        )
    return review_id


def flagged_unreviewed(session: Session) -> list[int]:
    return list(session.scalars(select(Listing.id).where(Listing.review == ReviewState.FLAGGED).order_by(Listing.id)))


def auto_confirm_flags(session: Session, day: dt.date) -> int:
    """Demo policy (off by default): confirm every flagged, unreviewed listing as of `day`."""
    from precursor_watch.storage.types import logical_ts

    at = logical_ts(day)
    ids = flagged_unreviewed(session)
    for lid in ids:
        record_review(
            session,
            lid,
            ReviewDecision.CONFIRMED,
            "auto-confirm",
            "demo auto-confirm policy",
            at,
            automated=True,
            latest=day,
        )
    return len(ids)
