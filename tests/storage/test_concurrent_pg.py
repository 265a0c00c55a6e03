"""Two processes ingest different platforms for the same date into PostgreSQL at once."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from precursor_watch.storage.db import make_engine, upgrade
from precursor_watch.storage.models import Account, CrawlRun, Event, Listing, Observation, Platform, Snapshot

from .conftest import PG_BASE, pg_url_with_schema

D0 = dt.date(2026, 11, 1)
N = 1500
BATCH = 100


def _worker(url: str, platform: str, barrier, errors) -> None:
    from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
    from precursor_watch.storage.ingest import ingest_batch
    from tests.storage.helpers import listing

    engine = make_engine(url)
    try:
        items = [listing(platform, f"{platform[:2].upper()}{i}", D0, seller=f"acct-{i % 40}") for i in range(N)]
        barrier.wait(timeout=60)
        for attempt in range(2):  # the second pass is a rerun of the same date: must add nothing
            with Session(engine) as s, s.begin():
                run = open_crawl_run(s, platform, D0)
            for i in range(0, N, BATCH):  # one transaction per batch, as the crawler pipeline commits
                with Session(engine) as s, s.begin():
                    ingest_batch(s, run, items[i : i + BATCH])
            with Session(engine) as s, s.begin():
                close_crawl_run(s, run, {"pages": N, "errors": {}})
    except Exception as exc:  # reported to the parent, which fails the test with it
        errors.put(f"{platform}: {exc!r}")
        raise
    finally:
        engine.dispose()


@pytest.fixture
def own_pg_url(pg_schema):
    """A schema of its own: this test commits, the others roll back."""
    schema = f"{pg_schema}_conc"
    admin = make_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = pg_url_with_schema(schema)
    upgrade(url)
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.mark.postgres
def test_two_processes_same_date_nothing_lost_nothing_duplicated(own_pg_url):
    pg_url = own_pg_url
    ctx = mp.get_context("spawn")
    barrier, errors = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(pg_url, p, barrier, errors)) for p in ("chemdir", "tradehub")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert errors.empty(), errors.get()
    assert [p.exitcode for p in procs] == [0, 0]
    engine = make_engine(pg_url)
    try:
        with Session(engine) as s:
            count = lambda m, *w: s.scalar(select(func.count()).select_from(m).where(*w))  # noqa: E731
            pids = select(Platform.id).where(Platform.name.in_(("chemdir", "tradehub")))
            assert count(Platform, Platform.name.in_(("chemdir", "tradehub"))) == 2
            assert count(CrawlRun, CrawlRun.platform_id.in_(pids)) == 2
            assert count(Listing, Listing.platform_id.in_(pids)) == 2 * N
            assert count(Account, Account.platform_id.in_(pids)) == 2 * 40
            lids = select(Listing.id).where(Listing.platform_id.in_(pids))
            assert count(Snapshot, Snapshot.listing_id.in_(lids)) == 2 * N
            assert count(Observation, Observation.listing_id.in_(lids)) == 2 * N
            assert count(Event, Event.listing_id.in_(lids), Event.kind == "first_seen") == 2 * N
            assert count(Event, Event.listing_id.in_(lids)) == 2 * N
            dupes = s.execute(select(Listing.platform_id, Listing.listing_key).where(Listing.platform_id.in_(pids))
                              .group_by(Listing.platform_id, Listing.listing_key).having(func.count() > 1)).all()
            assert dupes == []
    finally:
        engine.dispose()
