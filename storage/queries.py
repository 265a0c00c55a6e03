"""Read-side queries other stages call."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from precursor_watch.storage.kinds import EventKind, Presence, ReviewState
from precursor_watch.storage.models import Account, Detection, Event, Listing, Platform, Snapshot, Store

STAY_DOWN_WATCH_DAYS = 30  # removed listings are revisited this long, to catch reappearance


def revisit_targets(session: Session, platform: str, day: dt.date | None = None) -> list[str]:
    """URLs a full (or sweep) crawl revisits on `platform`: every active listing, every reported
    listing (live or removed: stay-down is verified on the same URL), and listings removed within
    the last 30 days. Account and store pages are not stored (items carry only their keys): the
    crawler reaches them from the listing pages.
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


def tracked_targets(session: Session, platform: str, day: dt.date) -> list[str]:
    """URLs a search-mode crawl revisits on `platform`: the tracked listings only, so its cost grows
    with suspects, not with the catalogue a sweep stored.

    Tracked: flagged, confirmed or reported (review state); or whose latest detection found a
    monitored or watched substance (whatever it decided); or ever reported (live or removed, for
    stay-down). Of these, the active ones, the reported ones, and those removed within the last
    30 days (to catch a reappearance). An ordinary active listing is left to search results and
    the weekly sweep, and its absence from a search crawl is never a removal
    (`storage.reconcile`: such a crawl counts toward absence only for the listings it revisited).
    """
    pid = select(Platform.id).where(Platform.name == platform).scalar_subquery()
    reported = select(Event.listing_id).where(Event.kind == EventKind.REPORTED, Event.listing_id.is_not(None))
    latest = (
        select(func.max(Detection.id).label("id"))
        .join(Snapshot, Snapshot.id == Detection.snapshot_id)
        .join(Listing, Listing.id == Snapshot.listing_id)
        .where(Listing.platform_id == pid)
        .group_by(Snapshot.listing_id)
        .subquery()
    )
    mentions = (
        select(Snapshot.listing_id)
        .join(Detection, Detection.snapshot_id == Snapshot.id)
        .join(latest, latest.c.id == Detection.id)
        .where(func.json_array_length(Detection.substances) > 0)
    )
    tracked = or_(Listing.review.in_(FLAGGED_STATES), Listing.id.in_(mentions))
    watched = and_(
        Listing.presence == Presence.REMOVED,
        Listing.last_seen_on >= day - dt.timedelta(days=STAY_DOWN_WATCH_DAYS),
    )
    stmt = (
        select(Listing.url)
        .where(
            Listing.platform_id == pid,
            or_(Listing.id.in_(reported), and_(tracked, or_(Listing.presence == Presence.ACTIVE, watched))),
        )
        .order_by(Listing.id)
    )
    return list(session.scalars(stmt))


class RevisitEntry(NamedTuple):
    url: str
    last_seen: dt.date | None  # last live sighting of an active listing; None: ask unconditionally
    etag: str | None  # ETag of its last live 200 answer, when one was sent


def revisit_entries(session: Session, platform: str, day: dt.date, mode: str = "search") -> list[RevisitEntry]:
    """The revisit list of a search (`tracked_targets`) or sweep (`revisit_targets`) crawl with, for
    each listing still active, the date of its last live sighting and the ETag of its last live
    answer: the crawler asks `If-None-Match` / `If-Modified-Since`, and a 304 is a sighting of the
    stored snapshot. Removed listings get neither (asked unconditionally: their stored content is
    not what is served).
    """
    if mode not in ("search", "sweep"):
        raise ValueError(f"mode: expected search or sweep, got {mode!r}")
    urls = tracked_targets(session, platform, day) if mode == "search" else revisit_targets(session, platform, day)
    last = {
        url: (seen, etag)
        for url, seen, etag in session.execute(
            select(Listing.url, Listing.last_seen_on, Listing.etag)
            .join(Platform, Platform.id == Listing.platform_id)
            .where(Platform.name == platform, Listing.presence == Presence.ACTIVE, Listing.last_seen_on < day)
        )
    }
    return [RevisitEntry(url, *last.get(url, (None, None))) for url in urls]


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
