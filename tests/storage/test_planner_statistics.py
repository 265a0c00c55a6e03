"""Planner statistics during a first crawl into empty PostgreSQL tables (`refresh_statistics`)."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from precursor_watch.storage.crawls import GROWN_BY_INGEST, close_crawl_run, open_crawl_run, refresh_statistics
from precursor_watch.storage.db import make_engine, upgrade
from precursor_watch.storage.ingest import ingest_batch

from .conftest import D0, PG_BASE, pg_url_with_schema
from .helpers import listing


def _ingest(engine, run, items):
    with Session(engine) as s, s.begin():
        ingest_batch(s, run, items)
        # what the backend counted goes to the statistics views when this transaction ends
        s.execute(text("SELECT pg_stat_force_next_flush()"))


def _planner_rows(engine, table: str) -> float:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"), {"t": table})


def test_a_first_crawl_analyses_the_tables_it_grows_once_they_outgrow_their_statistics():
    schema = f"pw_stats_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = None
    try:
        url = pg_url_with_schema(schema)
        upgrade(url)
        engine = make_engine(url)
        with Session(engine) as s, s.begin():
            run = open_crawl_run(s, "chemdir", D0)
        with Session(engine) as s, s.begin():  # the migration created empty tables: nothing changed yet
            assert refresh_statistics(s, only_stale=True) == []

        items = [listing("chemdir", f"CD{i}", D0, seller=f"acct-{i % 50}") for i in range(3000)]
        for i in range(0, len(items), 1000):
            _ingest(engine, run, items[i : i + 1000])
        with Session(engine) as s, s.begin():
            analysed = refresh_statistics(s, only_stale=True)
        # 3,000 new listings, observations, snapshots and events; 50 accounts and no stores are too few to matter
        assert analysed == ["listings", "observations", "snapshots", "events"]
        assert _planner_rows(engine, "listings") == 3000  # the planner now knows what the lookups scan
        with Session(engine) as s, s.begin():  # just analysed: nothing is stale now
            assert refresh_statistics(s, only_stale=True) == []
        with Session(engine) as s, s.begin():  # closing the run analyses every table ingest grows
            close_crawl_run(s, run, {"pages": 3000, "errors": {}})
        with engine.connect() as conn:
            never = conn.scalars(
                text("SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                     "AND relname = ANY(:t) AND last_analyze IS NULL"),
                {"t": list(GROWN_BY_INGEST)},
            ).all()
        assert never == []
    finally:
        if engine is not None:
            engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_sqlite_needs_no_statistics(session):
    assert refresh_statistics(session, only_stale=True) == []
    assert refresh_statistics(session) == []
