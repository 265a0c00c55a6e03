"""Read-side queries other stages call."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from precursor_watch.storage.kinds import EventKind, Presence, ReviewState
from precursor_watch.storage.models import Account, Event, Listing, Platform, Store

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


def revisit_entries(session: Session, platform: str, day: dt.date) -> list[tuple[str, dt.date | None]]:
    """`revisit_targets` with, for each listing still active, the date of its last live sighting:
    the crawler asks `If-Modified-Since` that day, and a 304 is a sighting of the stored snapshot.
    Removed listings get None (asked unconditionally: their stored content is not what is served).
    """
    urls = revisit_targets(session, platform, day)
    last = dict(
        session.execute(
            select(Listing.url, Listing.last_seen_on)
            .join(Platform, Platform.id == Listing.platform_id)
            .where(Platform.name == platform, Listing.presence == Presence.ACTIVE, Listing.last_seen_on < day)
        ).all()
    )
    return [(url, last.get(url)) for url in urls]


FLAGGED_STATES = (ReviewState.FLAGGED, ReviewState.CONFIRMED, ReviewState.REPORTED)


def flagged_sellers(session: Session, platform: str) -> tuple[list[str], list[str]]:
    """(account keys, store keys) of open accounts and stores with a flagged, confirmed or reported
    listing: search discovery revisits their pages for their other listings."""
    flagged = and_(Listing.review.in_(FLAGGED_STATES))
    accounts = session.scalars(
        select(Account.account_key)
        .join(Listing, Listing.account_id == Account.id)
        .join(Platform, Platform.id == Account.platform_id)
        .where(Platform.name == platform, flagged, Account.closed_on.is_(None))
        .distinct()
        .order_by(Account.account_key)
    )
    stores = session.scalars(
        select(Store.store_key)
        .join(Listing, Listing.store_id == Store.id)
        .join(Platform, Platform.id == Store.platform_id)
        .where(Platform.name == platform, flagged, Store.closed_on.is_(None))
        .distinct()
        .order_by(Store.store_key)
    )
    return list(accounts), list(stores)


def found_only_by_sweep(session: Session, date_from: dt.date, date_to: dt.date) -> dict[str, dict[str, object]]:
    """Per platform, for the sweep crawls in the period: listings a sweep found first that its own
    search queries, seller pages and revisit list did not reach (`crawl_runs.discovery.search_keys`),
    all of them and the flagged ones (flagged, confirmed or reported now), with the flagged keys:
    what the query plan should learn to find."""
    from precursor_watch.storage.models import CrawlRun

    runs = session.execute(
        select(CrawlRun.platform_id, CrawlRun.crawl_date, CrawlRun.discovery, Platform.name)
        .join(Platform, Platform.id == CrawlRun.platform_id)
        .where(CrawlRun.crawl_date >= date_from, CrawlRun.crawl_date <= date_to, CrawlRun.discovery.is_not(None))
        .order_by(Platform.name, CrawlRun.crawl_date)
    ).all()
    out: dict[str, dict[str, object]] = {}
    for pid, day, discovery, name in runs:
        if not isinstance(discovery, dict) or discovery.get("mode") != "sweep":
            continue
        reached = set(discovery.get("search_keys") or [])
        first = session.execute(
            select(Listing.listing_key, Listing.review).where(Listing.platform_id == pid, Listing.first_seen_on == day)
        ).all()
        missed = [(key, review) for key, review in first if key not in reached]
        row = out.setdefault(name, {"sweeps": 0, "found_only_by_sweep": 0, "flagged_only_by_sweep": 0, "flagged": []})
        row["sweeps"] = int(row["sweeps"]) + 1  # type: ignore[call-overload]
        row["found_only_by_sweep"] = int(row["found_only_by_sweep"]) + len(missed)  # type: ignore[call-overload]
        flagged = sorted(key for key, review in missed if review in FLAGGED_STATES)
        row["flagged_only_by_sweep"] = int(row["flagged_only_by_sweep"]) + len(flagged)  # type: ignore[call-overload]
        row["flagged"] = [*row["flagged"], *flagged]  # type: ignore[misc]
    return out
