"""Takedown notices: recorded once per idempotency key, each listing in it gets a `reported` event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Table, insert, select, update
from sqlalchemy.orm import Session

from precursor_watch.storage import events as ev
from precursor_watch.storage.errors import IllegalTransition, UnknownEntity
from precursor_watch.storage.kinds import EventKind, NoticeStatus, Presence, ReviewState
from precursor_watch.storage.models import Event, Listing, Notice, NoticeListing, Platform

FAILURE_MAX = 500  # characters of a failure reason kept: one line, never the platform's whole answer


@dataclass(frozen=True)
class ReportableListing:
    id: int
    platform: str
    listing_key: str
    url: str
    title: str


def record_notice(
    session: Session,
    *,
    platform: str,
    listing_ids: Sequence[int],
    legal_basis: str,
    channel: str,
    idempotency_key: str,
    sent_at: dt.datetime,
    ticket: str | None = None,
    response: Any = None,
) -> int:
    """Record a sent notice; the same idempotency key again returns the first notice's id unchanged."""
    existing = session.scalar(select(Notice.id).where(Notice.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    if not listing_ids:
        raise ValueError(f"notice {idempotency_key!r}: no listings")
    if sent_at.tzinfo is None:
        raise ValueError(f"notice {idempotency_key!r}: sent_at must be timezone-aware UTC")
    pid = session.scalar(select(Platform.id).where(Platform.name == platform))
    if pid is None:
        raise UnknownEntity(f"notice {idempotency_key!r}: unknown platform {platform!r}")
    ids = list(dict.fromkeys(listing_ids))
    owners = dict(session.execute(select(Listing.id, Listing.platform_id).where(Listing.id.in_(ids))).all())
    for lid in ids:
        if lid not in owners:
            raise UnknownEntity(f"notice {idempotency_key!r}: no listing with id {lid}")
        if owners[lid] != pid:
            raise IllegalTransition(f"notice {idempotency_key!r}: listing {lid} is not on {platform}")
    planned = [ev.NewEvent(EventKind.REPORTED, lid, sent_at.date(), at=sent_at) for lid in ids]
    ev.plan(session, planned)  # every listing must be live and confirmed: checked before writing
    with session.begin_nested():
        notice_id = session.execute(
            insert(Notice)
            .values(
                platform_id=pid,
                idempotency_key=idempotency_key,
                legal_basis=legal_basis,
                channel=channel,
                sent_at=sent_at,
                ticket=ticket,
                status=NoticeStatus.PENDING if ticket is None else NoticeStatus.SENT,
                response=response if response is not None else {},
            )
            .returning(Notice.id)
        ).scalar_one()
        # a declarative class's __table__ is typed FromClause; it is always a Table
        session.execute(
            insert(cast(Table, NoticeListing.__table__)), [{"notice_id": notice_id, "listing_id": lid} for lid in ids]
        )
        for e in planned:
            e.notice_id = notice_id
            e.details = {"idempotency_key": idempotency_key, "channel": channel}
        ev.append(session, planned)
    return notice_id


def record_notice_response(session: Session, idempotency_key: str, *, ticket: str | None, response: Any) -> None:
    """Store the platform's answer (ticket id, body) to a notice recorded earlier: it is sent."""
    _update(session, idempotency_key, ticket=ticket, response=response, status=NoticeStatus.SENT, failure=None)


def record_notice_failure(session: Session, idempotency_key: str, reason: str) -> None:
    """Mark a notice failed with a one-line reason (capped); a later run re-sends it."""
    _update(session, idempotency_key, status=NoticeStatus.FAILED, failure=reason[:FAILURE_MAX])


def _update(session: Session, idempotency_key: str, **values: Any) -> None:
    # an UPDATE's result is a CursorResult (with rowcount); Session.execute is typed Result
    done = cast(
        CursorResult[Any],
        session.execute(update(Notice).where(Notice.idempotency_key == idempotency_key).values(**values)),
    )
    if done.rowcount == 0:
        raise UnknownEntity(f"no notice with idempotency key {idempotency_key!r}")


def confirmed_unreported(session: Session, platform: str) -> list[ReportableListing]:
    """Live, confirmed listings of `platform` that no notice has reported yet."""
    rows = session.execute(
        select(Listing.id, Platform.name, Listing.listing_key, Listing.url, Listing.title)
        .join(Platform, Platform.id == Listing.platform_id)
        .where(Platform.name == platform, Listing.review == ReviewState.CONFIRMED, Listing.presence == Presence.ACTIVE)
        .order_by(Listing.id)
    )
    return [ReportableListing(*r) for r in rows]


# -- the notices board ---------------------------------------------------------------------------

# Where a notice stands, as the console's board shows it. One state per notice, the first that
# applies: removed, overdue, pending, acknowledged, sent (see `board_state`).
BOARD_STATES = ("pending", "sent", "acknowledged", "removed", "overdue")


@dataclass(frozen=True)
class BoardNotice:
    notice_id: int
    platform: str
    state: str
    status: NoticeStatus
    channel: str
    ticket: str | None
    sent_on: dt.date
    received_on: str | None  # the platform's acknowledgement date, from its stored answer
    failure: str | None
    listings: int
    removed: int  # listings with a removal observed on or after the notice's date
    days_open: int


def board_state(status: NoticeStatus, received_on: str | None, listings: int, removed: int, overdue: bool) -> str:
    """removed: every listing's removal observed since the notice; overdue: older than the overdue
    limit with a listing still up (the rule of `pwatch notices overdue`); pending: not delivered
    (recorded, or the last attempt failed); acknowledged: delivered and the platform's answer gives
    the date it received the notice; sent: delivered, with a ticket but no such date."""
    if listings and removed == listings:
        return "removed"
    if overdue:
        return "overdue"
    if status != NoticeStatus.SENT:
        return "pending"
    return "acknowledged" if received_on else "sent"


def _received_on(response: Any) -> str | None:
    answer = response.get("answer") if isinstance(response, dict) else None
    received = answer.get("received_on") if isinstance(answer, dict) else None
    return str(received) if received else None


def notice_board(session: Session, day: dt.date, overdue_days: int) -> list[BoardNotice]:
    """Every notice recorded by `day`, newest first, with its board state as of `day`."""
    rows = session.execute(
        select(Notice, Platform.name).join(Platform, Platform.id == Notice.platform_id).order_by(Notice.id.desc())
    ).all()
    notices = [(n, p) for n, p in rows if n.sent_at.date() <= day]
    members: dict[int, list[int]] = {}
    for nid, lid in session.execute(select(NoticeListing.notice_id, NoticeListing.listing_id)):
        members.setdefault(nid, []).append(lid)
    removals: dict[int, list[dt.date]] = {}
    for removed_id, on in session.execute(
        select(Event.listing_id, Event.occurred_on).where(
            Event.kind == EventKind.REMOVAL_OBSERVED,
            Event.listing_id.in_(select(NoticeListing.listing_id)),
            Event.occurred_on <= day,
        )
    ):
        if removed_id is not None:  # the IN filter excludes NULL; this tells the type checker
            removals.setdefault(removed_id, []).append(on)
    out = []
    for notice, platform in notices:
        sent_on = notice.sent_at.date()
        ids = members.get(notice.id, [])
        removed = sum(1 for lid in ids if any(on >= sent_on for on in removals.get(lid, [])))
        overdue = (day - sent_on).days >= overdue_days and removed < len(ids)
        received = _received_on(notice.response)
        state = board_state(notice.status, received, len(ids), removed, overdue)
        out.append(
            BoardNotice(
                notice.id,
                platform,
                state,
                notice.status,
                notice.channel,
                notice.ticket,
                sent_on,
                received,
                notice.failure,
                len(ids),
                removed,
                (day - sent_on).days,
            )
        )
    return out
