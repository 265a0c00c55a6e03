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
from precursor_watch.storage.models import Listing, Notice, NoticeListing, Platform

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
