"""On PostgreSQL, every reader (stats, daily report, audit, review list and the other read-only
commands) runs in READ ONLY transactions: a write through a reader's session is refused by the
server, while the commands themselves still read and work."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from precursor_watch.cli import main
from precursor_watch.settings import load_settings
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.models import Platform

pytestmark = pytest.mark.postgres

D = dt.date(2026, 11, 1)


@pytest.fixture
def settings(tmp_path, pg_url):
    return load_settings(data_dir=str(tmp_path), environ={}, database_url=pg_url)


def _write_is_refused(session: Session) -> None:
    with pytest.raises(DBAPIError, match="read-only transaction"):
        session.add(Platform(name="written-by-a-reader"))
        session.flush()
    session.rollback()
    assert session.execute(text("SHOW transaction_read_only")).scalar() == "on"


def test_a_read_only_engine_refuses_writes_and_still_reads(pg_url):
    engine = make_engine(pg_url, read_only=True)
    try:
        with Session(engine) as session:
            session.scalars(select(Platform)).all()
            _write_is_refused(session)
    finally:
        engine.dispose()
    writer = make_engine(pg_url)
    try:
        with Session(writer) as session:
            assert session.execute(text("SHOW transaction_read_only")).scalar() == "off"
            assert session.scalars(select(Platform).where(Platform.name == "written-by-a-reader")).first() is None
    finally:
        writer.dispose()


def test_the_reader_sessions_of_the_commands_are_read_only(settings, monkeypatch):
    from contextlib import contextmanager

    from precursor_watch.commands import reporting, storage
    from precursor_watch.reports import audit, daily
    from precursor_watch.storage import db

    with reporting._session(settings) as session:  # review list/show, notices export/overdue, audit
        _write_is_refused(session)
    with storage._session(settings, read_only=True) as session:  # stats
        _write_is_refused(session)
    # the daily and audit reports: every session they open refuses a write
    opened = []
    real_scope = db.session_scope

    @contextmanager
    def probing_scope(bind, **kwargs):
        with real_scope(bind, **kwargs) as session:
            _write_is_refused(session)
            opened.append(kwargs)
            yield session

    monkeypatch.setattr(db, "session_scope", probing_scope)
    monkeypatch.setattr(daily, "session_scope", probing_scope)
    daily.write_daily_report(settings, dt.date(2026, 11, 1))
    audit.write_audit_report(settings, dt.date(2026, 11, 1), dt.date(2026, 11, 1))
    assert len(opened) >= 2, opened


def test_the_read_only_commands_work_on_postgresql(settings, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PWATCH_DATABASE_URL", settings.database_url)
    data = ["--data-dir", str(tmp_path)]
    assert main(["stats", "--format", "json", *data]) == 0
    assert main(["review", "list", *data]) == 0
    assert main(["report", "--date", D.isoformat(), *data]) == 0
    assert main(["audit", "--from", D.isoformat(), "--to", D.isoformat(), "--out", str(tmp_path / "audit"), *data]) == 0
    assert (tmp_path / "audit" / "index.html").exists()
    capsys.readouterr()
