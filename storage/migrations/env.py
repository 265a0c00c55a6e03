"""Alembic environment: runs migrations against the URL from the config or `-x url=...`."""

from __future__ import annotations

from contextlib import contextmanager

from alembic import context

from precursor_watch.storage.db import make_engine
from precursor_watch.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic: no database URL (pass `-x url=...` or set sqlalchemy.url)")
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER needs table copies
        compare_type=True,
        compare_server_default=True,
        # SQLite DDL is transactional (we issue BEGIN ourselves): one transaction for the whole
        # upgrade, so a failed step or reference check leaves the database at its old revision
        transactional_ddl=True,
    )
    with _sqlite_foreign_keys_off(connection), context.begin_transaction():
        before = context.get_context().get_current_heads()
        context.run_migrations()
        if context.get_context().get_current_heads() != before:  # a no-op upgrade skips the scan
            _check_references(connection)


@contextmanager
def _sqlite_foreign_keys_off(connection):
    """SQLite alters a table by copying it (batch mode), and with foreign keys on, dropping the old
    copy of a table other rows reference fails. The PRAGMA only takes effect outside a transaction,
    so it is set on the bare connection here; `_check_references` proves nothing dangles before commit."""
    if connection.dialect.name != "sqlite" or connection.in_transaction():
        yield
        return
    dbapi = connection.connection.dbapi_connection
    dbapi.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        dbapi.execute("PRAGMA foreign_keys=ON")


def _check_references(connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _fk = broken[0]
        raise RuntimeError(f"migration left {len(broken)} dangling reference(s), e.g. {table} row {rowid} -> {parent}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
