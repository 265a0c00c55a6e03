"""Engines, sessions and migrations for the tracking database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session

from precursor_watch.storage.errors import StorageError

HERE = Path(__file__).resolve().parent
# Alembic logs one line per plugin at its first import (from any of its modules): keep stderr quiet.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def make_engine(url: str, *, read_only: bool = False, **kwargs) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and working SAVEPOINTs.

    `read_only`: SQLite is opened read-only and never created, so readers work beside a writer and
    on a data dir they cannot write (see `_read_only_sqlite`); on PostgreSQL every transaction is
    `READ ONLY`, so a reader's bug can never change the tracking data."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1] if ":///" in url else ""
        if read_only and path and path != ":memory:":
            return _read_only_sqlite(path, **kwargs)
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _sqlite_setup(engine)
        return engine
    # psycopg 3 pipelines executemany; measured faster here than multi-row VALUES batching
    # (`use_insertmanyvalues_wo_returning`): 18k vs 7k rows/s for a 10k-row Core insert.
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if read_only and engine.dialect.name == "postgresql":
        engine = engine.execution_options(postgresql_readonly=True)
    return engine


def _read_only_sqlite(path: str, **kwargs) -> Engine:
    """SQLite opened with `mode=ro`; where even that needs a write (a WAL database in a folder we
    may not write, e.g. a chmod a-w copy of a data dir) it is opened `immutable`: nobody can be
    writing such a copy, and immutable reads take no locks and create no -wal/-shm files."""
    import sqlite3
    from urllib.parse import quote

    base = f"file:{quote(str(Path(path).resolve()))}"
    uri = f"{base}?mode=ro"
    try:
        probe = sqlite3.connect(uri, uri=True)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchall()
        finally:
            probe.close()
    except sqlite3.OperationalError:
        uri = f"{base}?immutable=1"

    engine = create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False), **kwargs
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA query_only=ON")

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN")  # deferred: one consistent snapshot, no write lock

    return engine


def _sqlite_setup(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT (which we use so that a failed API call
    # writes nothing); take BEGIN over ourselves, as the SQLAlchemy SQLite docs recommend.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # Takes effect only while the file is still empty (before WAL is set); an existing database
        # keeps its page size. 16 KiB pages cut SQL time by ~15% when replaying a 100k-listing day.
        cur.execute("PRAGMA page_size=16384")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA temp_store=MEMORY")  # the ingest staging table (storage/staging.py)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE: take the write lock up front. A deferred BEGIN that reads, then writes after
        # another process committed, fails at once with "database is locked" (busy_timeout cannot help).
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def session_scope(bind: Engine | str, *, read_only: bool = False) -> Iterator[Session]:
    """The one way code opens the tracking database for a unit of work: one session in one
    transaction, committed when the block ends, rolled back when it raises.

    `bind` is a URL (an engine is made by `make_engine` and disposed afterwards) or an engine a
    caller keeps across several transactions (the crawl pipeline, notice sending between HTTP
    calls). `read_only` (URL only): the engine is opened read-only and nothing is committed."""
    if isinstance(bind, str):
        engine = make_engine(bind, read_only=read_only)
        try:
            with session_scope(engine, read_only=read_only) as session:
                yield session
        finally:
            engine.dispose()
        return
    with Session(bind, expire_on_commit=False) as session:
        if read_only:
            yield session  # autobegun on first use; ends with a rollback on close
        else:
            with session.begin():
                yield session


def alembic_config(url: str):
    import sys

    from alembic.config import Config

    cfg = Config(str(HERE / "alembic.ini"), stdout=sys.stdout)  # alembic's default is bound at its import
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Alembic upgrade to `revision`, programmatically (what `pwatch db upgrade` runs)."""
    from alembic import command

    verify_database(url, require_head=False, allow_missing=True)  # never migrate a newer or corrupt one
    command.upgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """`alembic check`: raises if the models and the migrations have drifted apart."""
    from alembic import command

    command.check(alembic_config(url))


# -- checks on open ------------------------------------------------------------------------------


class DatabaseProblem(StorageError):
    """The tracking database cannot be used as it is; nothing was written to it."""


class DatabaseMissing(DatabaseProblem):
    """No database there (no SQLite file, or no tables yet)."""


class DatabaseUnreachable(DatabaseProblem):
    """The URL is unusable or the server does not answer."""


class DatabaseCorrupt(DatabaseProblem):
    """The file is not a database, or the database fails its own integrity check."""


class SchemaMismatch(DatabaseProblem):
    """The schema revision is not this code's head (newer: written by a later version)."""


def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str:
    """The Alembic head of this code's migrations."""
    return _script().get_current_head()


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _sqlite_revision(path: Path) -> str | None:
    """alembic_version of a SQLite file, read without writing (no WAL switch, no write lock)."""
    import sqlite3

    if not path.exists():
        raise DatabaseMissing("no file there; check --data-dir, or run `pwatch db upgrade` first")
    if not path.is_file():
        raise DatabaseMissing(f"{path} is not a file")
    # mode=rw never creates the file; a plain read leaves the main file as it was, and closing the
    # last connection removes the -wal/-shm files again (a mode=ro connection would leave them).
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    except sqlite3.OperationalError:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "alembic_version" not in tables:
            return None
        rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.DatabaseError as exc:
        raise DatabaseCorrupt(f"{path} is not a readable SQLite database ({exc})") from None
    finally:
        conn.close()
    return rows[0][0] if rows else None


def _server_revision(url: str) -> str | None:
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url, pool_pre_ping=False, connect_args=_connect_timeout(url))
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).fetchall()
            conn.rollback()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise DatabaseUnreachable(f"not reachable ({reason[0] if reason else exc.__class__.__name__})") from None
    finally:
        engine.dispose()
    return rows[0][0] if rows else None


def _connect_timeout(url: str) -> dict:
    return {"connect_timeout": 10} if url.startswith("postgresql") else {}


def schema_revision(url: str) -> str | None:
    """The database's alembic_version (None: no schema yet); raises DatabaseProblem, never writes."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        path = sqlite_file(url)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise DatabaseUnreachable(f"not a usable database URL ({exc.__class__.__name__})") from None
    return _sqlite_revision(path) if path is not None else _server_revision(url)


def verify_database(url: str, *, require_head: bool = True, allow_missing: bool = False) -> str | None:
    """Check the database before anything uses it: it exists (unless `allow_missing`), is readable,
    and its schema revision is this code's (`require_head`) or at least one this code knows.

    A revision this code does not know was written by a newer version: reading it could misreport
    and writing it could corrupt it, so that is always refused.
    """
    try:
        revision = schema_revision(url)
    except DatabaseMissing:
        if allow_missing:
            return None
        raise
    head = head_revision()
    if revision is None:
        if allow_missing:
            return None
        raise DatabaseMissing("the file has no schema yet; run `pwatch db upgrade` first")
    known = {script.revision for script in _script().walk_revisions()}
    if revision not in known:
        raise SchemaMismatch(
            f"schema revision {revision!r} is newer than this code (head {head!r}): "
            "use the pwatch version that wrote it"
        )
    if require_head and revision != head:
        raise SchemaMismatch(
            f"schema revision {revision!r} is older than this code (head {head!r}): run `pwatch db upgrade` first"
        )
    return revision


def integrity_problems(url: str, limit: int = 5) -> list[str]:
    """The database's own consistency checks, read-only; [] when all pass.

    SQLite: `PRAGMA integrity_check` and `PRAGMA foreign_key_check`. PostgreSQL: indexes left
    invalid (a failed concurrent build) and constraints never validated, in the current schema.
    Both: the tables and columns the models expect are there (Alembic's model comparison).
    """
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    path = sqlite_file(url)
    engine = (
        create_engine(url, connect_args=_connect_timeout(url))
        if path is None
        else create_engine("sqlite://", creator=lambda: _sqlite_connect_readonly(path))
    )
    problems: list[str] = []
    try:
        with engine.connect() as conn:
            if path is not None:
                rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
                problems += [f"integrity_check: {r}" for r in rows if r != "ok"]
                fk = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                problems += [f"foreign_key_check: {r[0]} row {r[1]} references missing {r[2]}" for r in fk]
            else:
                problems += [
                    f"index {r[0]} is invalid"
                    for r in conn.execute(
                        text(
                            "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                            "WHERE c.relnamespace = current_schema()::regnamespace "
                            "AND NOT (i.indisvalid AND i.indisready)"
                        )
                    )
                ]
                problems += [
                    f"constraint {r[0]} is not validated"
                    for r in conn.execute(
                        text(
                            "SELECT conname FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
                            "AND NOT convalidated"
                        )
                    )
                ]
            if not problems:
                problems += _model_drift(conn)
            conn.rollback()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        problems.append(f"check failed: {reason[0] if reason else exc.__class__.__name__}")
    finally:
        engine.dispose()
    return problems[:limit] + ([f"... and {len(problems) - limit} more"] if len(problems) > limit else [])


def _sqlite_connect_readonly(path: Path):
    import sqlite3

    return sqlite3.connect(f"file:{path}?mode=rw", uri=True)


def _model_drift(conn) -> list[str]:
    """Differences between the models and the tables (what `alembic check` reports)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from precursor_watch.storage.models import Base

    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
    return [f"schema differs from the models: {diff!r}"[:200] for diff in compare_metadata(context, Base.metadata)]
