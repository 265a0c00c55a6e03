"""Crawl runs: one per platform per logical date, with the health that gates absence counting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from precursor_watch.storage.bulk import dialect_insert as _insert
from precursor_watch.storage.errors import UnknownEntity
from precursor_watch.storage.models import CrawlRun, Observation, Platform


def platform_id(session: Session, name: str) -> int:
    """The platform's id, created on first sight (safe under concurrent writers)."""
    found = session.scalar(select(Platform.id).where(Platform.name == name))
    if found is not None:
        return found
    session.execute(_insert(session, Platform).values(name=name).on_conflict_do_nothing())
    return session.execute(select(Platform.id).where(Platform.name == name)).scalar_one()


def open_crawl_run(session: Session, platform: str, crawl_date: dt.date) -> int:
    """The run for (platform, date); rerunning a date reuses the row and resets its health.

    Observations already stored for the run stay (each is evidence of a sighting); ingest upserts
    them by URL, so a rerun that sees the same pages changes nothing.
    """
    pid = platform_id(session, platform)
    values = dict(
        platform_id=pid, crawl_date=crawl_date, closed=False, pages=0, items=0, errors={}, error_rate=0.0, healthy=False
    )
    stmt = _insert(session, CrawlRun).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["platform_id", "crawl_date"],
        set_={k: stmt.excluded[k] for k in ("closed", "pages", "items", "errors", "error_rate", "healthy")},
    )
    session.execute(stmt)
    return session.execute(
        select(CrawlRun.id).where(CrawlRun.platform_id == pid, CrawlRun.crawl_date == crawl_date)
    ).scalar_one()


def close_crawl_run(session: Session, run_id: int, stats: Mapping[str, Any], *, error_threshold: float = 0.2) -> bool:
    """Record the crawl's health: `pages` (fetch attempts), `errors` ({kind: count}), `items`.

    error rate = the largest of failed fetches / pages, quarantined items / pages (`quarantined`:
    {kind: count}, or `quarantine_count`) and `drift_share` (crawlers/health.py); a run is healthy
    when it has pages and the rate is at most
    `error_threshold`. Returns healthy. Reconcile re-applies its own threshold to `error_rate`.
    """
    run = session.get(CrawlRun, run_id)
    if run is None:
        raise UnknownEntity(f"no crawl run with id {run_id}")
    pages = int(stats.get("pages", 0))
    errors = {str(k): int(v) for k, v in dict(stats.get("errors") or {}).items()}
    if pages < 0 or any(v < 0 for v in errors.values()):
        raise ValueError(f"crawl run {run_id}: negative counts in {dict(stats)!r}")
    failed = sum(errors.values())
    quarantined = int(stats.get("quarantine_count") or sum(dict(stats.get("quarantined") or {}).values()))
    rate = max(failed, quarantined) / pages if pages else 1.0
    # Layout drift (listing pages without a required field of the platform file) is counted over
    # listing pages: a platform whose markup changed must never count toward absence.
    rate = max(rate, float(stats.get("drift_share") or 0.0))
    items = stats.get("items")
    if items is None:
        items = session.execute(
            select(func.count()).select_from(Observation).where(Observation.crawl_run_id == run_id)
        ).scalar_one()
    run.pages, run.errors, run.items, run.error_rate = pages, errors, int(items), round(rate, 6)
    discovery = stats.get("discovery")
    if discovery is not None:
        run.discovery = dict(discovery)
    run.closed = True
    run.healthy = pages > 0 and rate <= error_threshold
    session.flush()
    # A crawl can add a whole platform's listings at once; fresh statistics keep the next run's
    # key lookups on the indexes (autovacuum would get there only later).
    refresh_statistics(session)
    return run.healthy


# The tables ingest grows, in one fixed order: two writers analysing at once then take ANALYZE's
# (self-conflicting) locks in the same order and never wait on each other in a cycle.
GROWN_BY_INGEST = ("accounts", "stores", "listings", "observations", "snapshots", "events")


def refresh_statistics(session: Session, *, only_stale: bool = False) -> list[str]:
    """PostgreSQL: ANALYZE the tables ingest grows; with `only_stale`, only those that changed by
    more rows than the planner believes they hold (its estimate is off by over 2x). Returns the
    tables analysed; SQLite plans these lookups from its indexes alone and needs nothing.

    Why during a crawl (the storage pipeline calls this after each committed batch): a first
    crawl fills empty tables, and with statistics from when they were empty PostgreSQL planned the
    per-batch key lookups as scans of the whole table, so each batch cost more than the last.
    Doubling as the trigger keeps that to a handful of ANALYZEs per crawl.
    """
    if session.get_bind().dialect.name != "postgresql":
        return []
    tables = list(GROWN_BY_INGEST)
    if only_stale:
        stale = set(
            session.scalars(
                text(
                    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
                    "WHERE s.schemaname = current_schema() AND s.relname = ANY(:tables) "
                    "AND s.n_mod_since_analyze > greatest(:floor, c.reltuples)"
                ),
                {"tables": tables, "floor": _STALE_FLOOR},
            )
        )
        tables = [t for t in tables if t in stale]
    if tables:
        session.execute(text(f"ANALYZE {', '.join(tables)}"))
    return tables


_STALE_FLOOR = 1000  # rows changed: below this a table's plan does not matter


def crawl_run_summary(session: Session, platform: str, crawl_date: dt.date) -> dict[str, Any]:
    """Counts of one run (what the crawl step hands Airflow as XCom)."""
    row = session.execute(
        select(CrawlRun).join(Platform).where(Platform.name == platform, CrawlRun.crawl_date == crawl_date)
    ).scalar_one_or_none()
    if row is None:
        return {"platform": platform, "date": crawl_date.isoformat(), "run": None}
    return {
        "platform": platform,
        "date": crawl_date.isoformat(),
        "run": row.id,
        "pages": row.pages,
        "items": row.items,
        "errors": sum((row.errors or {}).values()),
        "error_rate": row.error_rate,
        "healthy": row.healthy,
        "discovery": (row.discovery or {}).get("mode"),
    }


def run_is_healthy(run: CrawlRun, error_threshold: float) -> bool:
    return bool(run.closed and run.pages > 0 and run.error_rate <= error_threshold)
