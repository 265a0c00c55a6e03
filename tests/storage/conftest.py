"""Real databases for storage tests: migrated once per session, one rolled-back transaction per test.

`db_url` / `engine` / `session` run on SQLite; tests that take `any_session` run on SQLite and on
the PostgreSQL server (127.0.0.1:5432, db `test`) in a schema of their own.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from precursor_watch.storage.db import make_engine, upgrade

PG_BASE = os.environ.get("PWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
D0 = dt.date(2026, 11, 1)


def pg_url_with_schema(schema: str) -> str:
    return f"{PG_BASE}?options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'pwatch.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def pg_schema():
    """A fresh schema for this test session, dropped at the end."""
    schema = f"pw_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_BASE)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # the server is part of this project's test machine: fail, never skip
        admin.dispose()
        pytest.fail(f"PostgreSQL not available at {PG_BASE}: {exc}")
    yield schema
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url(pg_schema) -> str:
    url = pg_url_with_schema(pg_schema)
    upgrade(url)
    return url


def _rolled_back_session(engine):
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        conn.close()


@pytest.fixture(scope="session")
def engine(sqlite_url):
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine):
    yield from _rolled_back_session(engine)


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_engine(request):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def any_session(any_engine):
    yield from _rolled_back_session(any_engine)
