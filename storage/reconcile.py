"""Reconcile one logical date: removals, reappearances, closures and relistings become events.

Rules (see README "Tracking"):
- A removal is observed at once from an explicit gone page (404, 410, soft-removed, redirected,
  account/store/platform closed) in a healthy crawl of that date, and otherwise on the date of the
  K-th consecutive healthy crawl in which an active listing was absent (the event records the
  first absent date too). An unhealthy crawl (error rate over the threshold, or not closed) never
  counts toward absence and its gone pages wait for a healthy crawl; only an explicit platform
  closure page counts from any crawl, as a closed platform fails every fetch. A search-mode crawl
  fetches only its revisit list and what search finds, so it counts toward absence only for the
  listings on its revisit list (`discovery.revisit_keys`): missing from search results, or not
  revisited, is never a removal.
- A reappearance is a live sighting (in any crawl) of a listing removed on an earlier date.
- An account, store or platform closure closes the entity once and removes its active listings.
- Relistings: see `storage.relisting`.
Reconciling a date twice changes nothing: every rule acts only on listings whose state it moves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from precursor_watch.storage import events as ev
from precursor_watch.storage.bulk import one_of
from precursor_watch.storage.crawls import run_is_healthy
from precursor_watch.storage.kinds import EventKind, GoneReason, ObservationKind, Presence, RemovalCause
from precursor_watch.storage.models import Account, CrawlRun, Event, Listing, Observation, Platform, RelistLink, Store
from precursor_watch.storage.relisting import find_relistings


@dataclass
class ReconcileSummary:
    date: str
    healthy_runs: int = 0
    unhealthy_runs: int = 0
    removed_explicit: int = 0
    removed_silent: int = 0
    removed_by_closure: int = 0
    reappeared: int = 0
    relisted: int = 0
    accounts_closed: int = 0
    stores_closed: int = 0
    platforms_closed: int = 0
    unhealthy_platforms: list[str] = field(default_factory=list)


def reconcile_date(
    session: Session,
    day: dt.date,
    *,
    absence_k: int = 2,
    error_threshold: float = 0.2,
    relist_window_days: int = 7,
    text_threshold: float = 0.7,
) -> ReconcileSummary:
    if absence_k < 1:
        raise ValueError(f"absence_k must be at least 1, got {absence_k}")
    summary = ReconcileSummary(date=day.isoformat())
    with session.begin_nested():
        for pid, pname in session.execute(select(Platform.id, Platform.name).order_by(Platform.id)).all():
            run = session.scalar(select(CrawlRun).where(CrawlRun.platform_id == pid, CrawlRun.crawl_date == day))
            if run is None:
                continue
            healthy = run_is_healthy(run, error_threshold)
            if healthy:
                summary.healthy_runs += 1
            else:
                summary.unhealthy_runs += 1
                summary.unhealthy_platforms.append(pname)
            _mark_sightings(session, pid, run, day)
            _reappearances(session, run, day, summary)
            _closures_and_gone(session, pid, run, day, healthy, summary)
            if healthy:
                _silent_removals(session, pid, day, absence_k, error_threshold, summary)
        _relistings(session, day, relist_window_days, text_threshold, summary)
    return summary


# The observation columns that name its WARC record, in `ev.EVIDENCE_FIELDS` order: every event
# born of an observation carries its own copy (a rerun of the date overwrites the observation).
_CITED = (Observation.evidence_sha256, Observation.evidence_file, Observation.evidence_record, Observation.evidence_uri)


def _cites(row) -> ev.Citation:
    return ev.cited(row.evidence_sha256, row.evidence_file, row.evidence_record, row.evidence_uri)


def _mark_sightings(session: Session, pid: int, run: CrawlRun, day: dt.date) -> None:
    """listings.last_seen_on from the run's live sightings: one set-based UPDATE, not one per item."""
    seen = select(Observation.listing_id).where(
        Observation.crawl_run_id == run.id, Observation.kind == ObservationKind.SEEN
    )
    session.execute(
        update(Listing)
        .where(Listing.platform_id == pid, Listing.id.in_(seen), Listing.last_seen_on < day)
        .values(last_seen_on=day)
        .execution_options(synchronize_session=False)
    )


def _reappearances(session: Session, run: CrawlRun, day: dt.date, summary: ReconcileSummary) -> None:
    last_removal = (
        select(Event.listing_id, func.max(Event.occurred_on).label("on"))
        .where(Event.kind == EventKind.REMOVAL_OBSERVED)
        .group_by(Event.listing_id)
        .subquery()
    )
    rows = session.execute(
        select(Observation.listing_id, Observation.id, *_CITED)
        .join(Listing, Listing.id == Observation.listing_id)
        .join(last_removal, last_removal.c.listing_id == Listing.id)
        .where(
            Observation.crawl_run_id == run.id,
            Observation.kind == ObservationKind.SEEN,
            Listing.presence == Presence.REMOVED,
            last_removal.c.on < day,
        )
        .order_by(Observation.listing_id)
    ).all()
    ev.append(
        session, [ev.NewEvent(EventKind.REAPPEARED, r.listing_id, day, observation_id=r.id, **_cites(r)) for r in rows]
    )
    summary.reappeared += len(rows)


def _closures_and_gone(
    session: Session, pid: int, run: CrawlRun, day: dt.date, healthy: bool, summary: ReconcileSummary
) -> None:
    gone = session.execute(
        select(
            Observation.id,
            Observation.listing_id,
            Observation.gone_reason,
            *_CITED,
            Listing.account_id,
            Listing.store_id,
            Listing.last_seen_on,
        )
        .outerjoin(Listing, Listing.id == Observation.listing_id)
        .where(Observation.crawl_run_id == run.id, Observation.kind == ObservationKind.GONE)
        # by URL, not id: the first page of a closed account/store/platform is the evidence cited for
        # all its listings, and ids follow the crawl's ingest order, which varies run to run
        .order_by(Observation.url)
    ).all()
    platform_closed = [g for g in gone if g.gone_reason == GoneReason.PLATFORM_CLOSED]
    if platform_closed and session.scalar(select(Platform.closed_on).where(Platform.id == pid)) is None:
        g = platform_closed[0]
        session.execute(update(Platform).where(Platform.id == pid).values(closed_on=day))
        ev.append(
            session,
            [ev.NewEvent(EventKind.PLATFORM_CLOSED, None, day, platform_id=pid, observation_id=g.id, **_cites(g))],
        )
        summary.platforms_closed += 1
        summary.removed_by_closure += _remove_all(
            session, Listing.platform_id == pid, day, RemovalCause.PLATFORM_CLOSED, g
        )
    if not healthy:
        return
    for g in gone:
        if g.listing_id is None or g.last_seen_on >= day:
            continue  # never seen alive, or seen again since (an older date reconciled again)
        if g.gone_reason == GoneReason.ACCOUNT_CLOSED and g.account_id is not None:
            if _close_entity(session, Account, g.account_id, pid, day, EventKind.ACCOUNT_CLOSED, g):
                summary.accounts_closed += 1
            summary.removed_by_closure += _remove_all(
                session, Listing.account_id == g.account_id, day, RemovalCause.ACCOUNT_CLOSED, g
            )
        elif g.gone_reason == GoneReason.STORE_CLOSED and g.store_id is not None:
            if _close_entity(session, Store, g.store_id, pid, day, EventKind.STORE_CLOSED, g):
                summary.stores_closed += 1
            summary.removed_by_closure += _remove_all(
                session, Listing.store_id == g.store_id, day, RemovalCause.STORE_CLOSED, g
            )
    active = set(
        session.scalars(
            select(Listing.id).where(
                Listing.id.in_({g.listing_id for g in gone if g.listing_id}), Listing.presence == Presence.ACTIVE
            )
        )
    )
    events = []
    for g in gone:
        if g.listing_id in active and g.last_seen_on < day:
            active.discard(g.listing_id)
            events.append(
                ev.NewEvent(
                    EventKind.REMOVAL_OBSERVED, g.listing_id, day, cause=g.gone_reason, observation_id=g.id, **_cites(g)
                )
            )
    ev.append(session, events)
    summary.removed_explicit += len(events)


def _close_entity(session: Session, model, entity_id: int, pid: int, day: dt.date, kind: EventKind, g) -> bool:
    if session.scalar(select(model.closed_on).where(model.id == entity_id)) is not None:
        return False
    session.execute(update(model).where(model.id == entity_id).values(closed_on=day))
    account_id, store_id = (entity_id, None) if model is Account else (None, entity_id)
    ev.append(
        session,
        [
            ev.NewEvent(
                kind,
                None,
                day,
                platform_id=pid,
                account_id=account_id,
                store_id=store_id,
                observation_id=g.id,
                **_cites(g),
            )
        ],
    )
    return True


def _remove_all(session: Session, where, day: dt.date, cause: RemovalCause, g) -> int:
    ids = list(
        session.scalars(
            select(Listing.id)
            .where(where, Listing.presence == Presence.ACTIVE, Listing.last_seen_on < day)
            .order_by(Listing.id)
        )
    )
    ev.append(
        session,
        [
            ev.NewEvent(EventKind.REMOVAL_OBSERVED, lid, day, cause=cause, observation_id=g.id, **_cites(g))
            for lid in ids
        ],
    )
    return len(ids)


def _silent_removals(
    session: Session, pid: int, day: dt.date, k: int, threshold: float, summary: ReconcileSummary
) -> None:
    runs = session.scalars(
        select(CrawlRun)
        .where(CrawlRun.platform_id == pid, CrawlRun.crawl_date <= day)
        .order_by(CrawlRun.crawl_date.desc())
    ).all()
    last_k = [r for r in runs if run_is_healthy(r, threshold)][:k]
    if len(last_k) < k:
        return
    first_absent = last_k[-1].crawl_date
    absent = select(Listing.id).where(
        Listing.platform_id == pid, Listing.presence == Presence.ACTIVE, Listing.last_seen_on < first_absent
    )
    covered = _revisited_by_all(last_k)
    if covered is not None:
        if not covered:
            return
        absent = absent.where(one_of(session, Listing.listing_key, sorted(covered)))
    ids = list(session.scalars(absent.order_by(Listing.id)))
    details = {"first_absent_on": first_absent.isoformat(), "absent_in_runs": [r.id for r in reversed(last_k)]}
    ev.append(
        session,
        [ev.NewEvent(EventKind.REMOVAL_OBSERVED, lid, day, cause=RemovalCause.ABSENT, details=details) for lid in ids],
    )
    summary.removed_silent += len(ids)


def _revisited_by_all(runs: list[CrawlRun]) -> set[str] | None:
    """The listing keys every search-mode run of `runs` revisited (None: no run limits absence).

    A search run without `revisit_keys` predates the tracked revisit set: it revisited every active
    listing, so it limits nothing."""
    covered: set[str] | None = None
    for run in runs:
        discovery = run.discovery if isinstance(run.discovery, dict) else {}
        keys = discovery.get("revisit_keys")
        if discovery.get("mode") != "search" or not isinstance(keys, list):
            continue
        covered = set(keys) if covered is None else covered & set(keys)
    return covered


def _relistings(session: Session, day: dt.date, window: int, threshold: float, summary: ReconcileSummary) -> None:
    matches = find_relistings(session, day, window_days=window, text_threshold=threshold)
    if not matches:
        return
    session.execute(
        insert(cast(Table, RelistLink.__table__)),  # __table__ is typed FromClause; it is a Table
        [
            {
                "original_listing_id": m.original_listing_id,
                "new_listing_id": m.new_listing_id,
                "method": m.method,
                "similarity": m.similarity,
                "detected_on": day,
            }
            for m in matches
        ],
    )
    ev.append(
        session,
        [
            ev.NewEvent(
                EventKind.RELISTED_AS,
                m.original_listing_id,
                day,
                related_listing_id=m.new_listing_id,
                details={"method": m.method, "similarity": m.similarity},
            )
            for m in matches
        ],
    )
    summary.relisted += len(matches)
