"""`storage.db.session_scope`: one transaction per block, committed or rolled back; read-only stays read-only."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from precursor_watch.storage.db import make_engine, session_scope


def _count(url: str) -> int:
    with session_scope(url) as session:
        return session.execute(text("SELECT count(*) FROM t")).scalar_one()


def test_commit_rollback_and_read_only(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with session_scope(url) as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    assert _count(url) == 1
    with pytest.raises(RuntimeError):
        with session_scope(url) as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
            raise RuntimeError("half-way")
    assert _count(url) == 1
    with pytest.raises(OperationalError):
        with session_scope(url, read_only=True) as session:
            session.execute(text("INSERT INTO t VALUES (3)"))
    assert _count(url) == 1


def test_a_kept_engine_is_not_disposed(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'y.db'}")
    with session_scope(engine) as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
    with session_scope(engine) as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
    with session_scope(engine) as session:
        assert session.execute(text("SELECT n FROM t")).scalar_one() == 1
    engine.dispose()
