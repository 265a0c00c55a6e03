"""Read-side queries other stages call."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from precursor_watch.storage.kinds import EventKind, Presence
from precursor_watch.storage.models import Event, Listing, Platform

STAY_DOWN_WATCH_DAYS = 30  # removed listings are revisited this long, to catch reappearance


def revisit_targets(session: Session, platform: str, day: dt.date | None = None) -> list[str]:
    """URLs the crawler must revisit on `platform`: every active listing, every reported listing
    (live or removed: stay-down is verified on the same URL), and listings removed within the last
    30 days. Account and store pages are not stored (items carry only their keys): the crawler
    reaches them from the listing pages.
    """
    reported = exists().where(and_(Event.listing_id == Listing.id, Event.kind == EventKind.REPORTED))
    removed = Listing.presence == Presence.REMOVED
    if day is not None:  # without a date every removed listing is watched
        removed = and_(removed, Listing.last_seen_on >= day - dt.timedelta(days=STAY_DOWN_WATCH_DAYS))
    stmt = (
        select(Listing.url)
        .join(Platform, Platform.id == Listing.platform_id)
        .where(Platform.name == platform, or_(Listing.presence == Presence.ACTIVE, reported, removed))
        .order_by(Listing.id)
    )
    return list(session.scalars(stmt))
