"""Closed sets of stored values: StrEnums in Python, CHECK constraints in the database.

On SQLite and PostgreSQL: a database holding data written at 0005 upgrades to head with its data
intact; the database itself (raw SQL, no ORM) accepts every member of each enum and refuses any
other value; downgrade then upgrade works. The migrations' frozen value lists equal the enums, so
an enum member (or enum column) added without a migration fails here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Enum, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from precursor_watch.storage.db import alembic_config, make_engine, upgrade
from precursor_watch.storage.kinds import (
    EventKind,
    NoticeStatus,
    Presence,
    RelistMethod,
    RemovalCause,
    ReviewState,
    UserRole,
)
from precursor_watch.storage.models import (
    Base,
    Event,
    Listing,
    Notice,
    Observation,
    Quarantine,
    RelistLink,
    Review,
    User,
)

from .conftest import PG_BASE, pg_url_with_schema

BEFORE = "0005_notice_limits"
SHA = "a" * 64

# Data as written at 0005: one row in every table with a constrained column, all values valid.
ROWS_AT_0005 = (
    "INSERT INTO platforms (id, name) VALUES (1, 'chemdir')",
    "INSERT INTO accounts (id, platform_id, account_key) VALUES (1, 1, 'cd-a1')",
    "INSERT INTO crawl_runs (id, platform_id, crawl_date, closed, pages, items, errors, error_rate, healthy)"
    " VALUES (1, 1, '2026-11-02', true, 2, 2, '{}', 0.0, true)",
    "INSERT INTO listings (id, platform_id, listing_key, url, title, account_id, first_seen_on, last_seen_on,"
    " content_sha256, presence, review)"
    f" VALUES (1, 1, 'CD1', 'http://chemdir.test/1', 'Offer 1', 1, '2026-11-01', '2026-11-01', '{SHA}', 'removed', 'reported'),"
    f" (2, 1, 'CD2', 'http://chemdir.test/2', 'Offer 2', 1, '2026-11-02', '2026-11-02', '{SHA}', 'active', 'none')",
    "INSERT INTO observations (id, crawl_run_id, listing_id, url, kind, gone_reason)"
    " VALUES (1, 1, 1, 'http://chemdir.test/1', 'gone', 'not_found'), (2, 1, 2, 'http://chemdir.test/2', 'seen', NULL)",
    "INSERT INTO reviews (id, listing_id, decision, reviewer, decided_at, automated)"
    " VALUES (1, 1, 'confirmed', 'analyst', '2026-11-01 00:00:00', false)",
    "INSERT INTO notices (id, platform_id, idempotency_key, legal_basis, channel, sent_at, response, status)"
    " VALUES (1, 1, 'k1', 'terms of service', 'http', '2026-11-01 00:00:00', '{}', 'sent')",
    "INSERT INTO notice_listings (notice_id, listing_id) VALUES (1, 1)",
    "INSERT INTO relist_links (id, original_listing_id, new_listing_id, method, similarity, detected_on)"
    " VALUES (1, 1, 2, 'text', 0.9, '2026-11-02')",
    "INSERT INTO events (id, kind, occurred_on, occurred_at, platform_id, listing_id, cause, review_id, notice_id,"
    " observation_id, related_listing_id, details) VALUES"
    " (1, 'first_seen', '2026-11-01', '2026-11-01 00:00:00', 1, 1, NULL, NULL, NULL, NULL, NULL, '{}'),"
    " (2, 'confirmed', '2026-11-01', '2026-11-01 00:00:00', 1, 1, NULL, 1, NULL, NULL, NULL, '{}'),"
    " (3, 'reported', '2026-11-01', '2026-11-01 00:00:00', 1, 1, NULL, NULL, 1, NULL, NULL, '{}'),"
    " (4, 'removal_observed', '2026-11-02', '2026-11-02 00:00:00', 1, 1, 'not_found', NULL, NULL, 1, NULL, '{}'),"
    " (5, 'first_seen', '2026-11-02', '2026-11-02 00:00:00', 1, 2, NULL, NULL, NULL, 2, NULL, '{}'),"
    " (6, 'relisted_as', '2026-11-02', '2026-11-02 00:00:00', 1, 1, NULL, NULL, NULL, NULL, 2, '{}')",
    "INSERT INTO quarantine (id, crawl_run_id, platform_id, url, kind, field, message)"
    " VALUES (1, 1, 1, 'http://chemdir.test/3', 'invalid_field', 'title', 'field title must be a string')",
)


def _enum_columns() -> dict[tuple[str, str], type]:
    """(table, column) -> the StrEnum of every model column typed as one."""
    return {
        (table.name, column.name): column.type.enum_class
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, Enum)
    }


def _allowed_by_migrations() -> dict[tuple[str, str], tuple[str, ...]]:
    """The values each constrained column allows at head: the newest frozen copy in the migrations."""
    allowed: dict[tuple[str, str], tuple[str, ...]] = {}
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    for revision in reversed(list(script.walk_revisions())):  # base first, so later copies win
        for table, columns in getattr(revision.module, "ALLOWED", {}).items():
            for column, values in columns.items():
                allowed[(table, column)] = tuple(values)
    return allowed


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kinds.db'}"
        return
    schema = f"pw_kinds_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_url_with_schema(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# A console user (the users table is younger than 0005), written just before its role is typed.
USER_AT_0010 = (
    "INSERT INTO users (id, name, role, password_hash, disabled, created_at)"
    " VALUES (1, 'ana', 'analyst', 'scrypt$x', false, '2026-11-01 00:00:00')",
)


@pytest.fixture
def upgraded(url) -> str:
    """A database that held data at 0005 (and a user at 0010), upgraded to head."""
    upgrade(url, BEFORE)
    _run(url, ROWS_AT_0005)
    upgrade(url, "0010_drop_location")
    _run(url, USER_AT_0010)
    upgrade(url)
    return url


def _run(url: str, statements) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _refuses(url: str, statement: str) -> bool:
    """Whether the database refuses `statement` with an integrity error (nothing is kept either way)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            try:
                conn.execute(text(statement))
            except IntegrityError:
                return True
            finally:
                conn.rollback()
        return False
    finally:
        engine.dispose()


def test_frozen_copies_in_the_migrations_equal_the_enums():
    enums = _enum_columns()
    allowed = _allowed_by_migrations()
    assert set(enums) == set(allowed), "an enum column without a constraint migration, or the reverse"
    for key, enum in enums.items():
        assert sorted(allowed[key]) == sorted(m.value for m in enum), (
            f"{key}: {enum.__name__} differs from its migration"
        )


def test_removal_causes_are_the_gone_reasons_and_absence():
    from precursor_watch.storage.kinds import GoneReason

    assert {c.value for c in RemovalCause} == {r.value for r in GoneReason} | {"absent"}


def test_data_written_at_0005_survive_the_upgrade(upgraded):
    engine = make_engine(upgraded)
    try:
        with Session(engine) as s:
            kinds = s.scalars(select(Event.kind).order_by(Event.id)).all()
            states = s.execute(select(Listing.presence, Listing.review).order_by(Listing.id)).all()
            cause = s.scalar(select(Event.cause).where(Event.id == 4))
            observed = s.execute(select(Observation.kind, Observation.gone_reason).order_by(Observation.id)).all()
            decision, status = s.scalar(select(Review.decision)), s.scalar(select(Notice.status))
            method, quarantined = s.scalar(select(RelistLink.method)), s.scalar(select(Quarantine.kind))
            role = s.scalar(select(User.role))
    finally:
        engine.dispose()
    assert kinds == ["first_seen", "confirmed", "reported", "removal_observed", "first_seen", "relisted_as"]
    assert kinds[3] is EventKind.REMOVAL_OBSERVED  # read back as the enum, equal to the stored text
    assert [tuple(r) for r in states] == [("removed", "reported"), ("active", "none")]
    assert states[0].presence is Presence.REMOVED and states[0].review is ReviewState.REPORTED
    assert cause is RemovalCause.NOT_FOUND
    assert [tuple(r) for r in observed] == [("gone", "not_found"), ("seen", None)]
    assert (decision, status, method, quarantined) == (
        "confirmed",
        NoticeStatus.SENT,
        RelistMethod.TEXT,
        "invalid_field",
    )
    assert role is UserRole.ANALYST


def test_the_database_accepts_every_member_and_refuses_anything_else(upgraded):
    for (table, column), enum in _enum_columns().items():
        for member in enum:
            assert not _refuses(upgraded, f"UPDATE {table} SET {column} = '{member.value}'"), (
                f"{table}.{column}={member}"
            )
        assert _refuses(upgraded, f"UPDATE {table} SET {column} = 'bogus'"), f"{table}.{column} took 'bogus'"
    # a new row, too, and a near miss in case (CHECK compares exactly)
    assert _refuses(
        upgraded,
        "INSERT INTO events (kind, occurred_on, occurred_at, platform_id, details)"
        " VALUES ('platform_reopened', '2026-11-03', '2026-11-03 00:00:00', 1, '{}')",
    )
    assert _refuses(upgraded, "UPDATE listings SET presence = 'Active'")


def test_constraints_are_named_by_the_convention(upgraded):
    engine = make_engine(upgraded)
    try:
        insp = inspect(engine)
        for table, column in _enum_columns():
            names = {ck["name"] for ck in insp.get_check_constraints(table)}
            assert f"ck_{table}_{column}" in names, f"{table}: {names}"
    finally:
        engine.dispose()


def test_downgrade_drops_the_constraints_and_upgrade_restores_them(upgraded):
    bogus = "UPDATE notices SET status = 'bogus'"
    command.downgrade(alembic_config(upgraded), BEFORE)
    assert not _refuses(upgraded, bogus)  # rolled back: the data stay valid
    engine = make_engine(upgraded)
    try:
        present = set(inspect(engine).get_table_names())  # tables created after BEFORE are gone
        assert not any(inspect(engine).get_check_constraints(t) for t, _c in _enum_columns() if t in present)
    finally:
        engine.dispose()
    upgrade(upgraded)
    assert _refuses(upgraded, bogus)
    engine = make_engine(upgraded)
    try:
        with Session(engine) as s:
            assert s.scalars(select(Event.kind).order_by(Event.id)).all()[3] == "removal_observed"
            assert s.scalar(select(Listing.review).where(Listing.id == 1)) == "reported"
    finally:
        engine.dispose()


def test_sqlite_upgrade_refuses_to_commit_dangling_references(tmp_path):
    """Migrations run with SQLite foreign keys off (batch mode copies tables); a reference that
    points nowhere afterwards stops the upgrade, and the database stays at its old revision."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'dangling.db'}"
    upgrade(url, BEFORE)
    _run(url, ROWS_AT_0005)
    raw = sqlite3.connect(tmp_path / "dangling.db")  # foreign keys are off by default here
    raw.execute("UPDATE events SET listing_id = 99 WHERE id = 5")
    raw.commit()
    raw.close()
    with pytest.raises(RuntimeError, match="dangling reference"):
        upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == BEFORE
        assert not inspect(engine).get_check_constraints("events")
    finally:
        engine.dispose()


def test_user_roles_outside_the_set_stop_the_role_migration_naming_the_user(url):
    """A role the enum does not know (written before 0011) stops the upgrade with the user named;
    the database stays at 0010 with the row as it was."""
    upgrade(url, "0010_drop_location")
    _run(url, [USER_AT_0010[0].replace("'analyst'", "'superuser'")])
    with pytest.raises(RuntimeError, match="'ana' has role 'superuser'"):
        upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0010_drop_location"
            assert conn.execute(text("SELECT role FROM users")).scalar() == "superuser"
    finally:
        engine.dispose()


def test_roles_are_typed_in_the_model_and_refused_by_the_database(upgraded):
    for role in UserRole:
        assert not _refuses(upgraded, f"UPDATE users SET role = '{role.value}'")
    assert _refuses(upgraded, "UPDATE users SET role = 'Admin'")
    assert _refuses(
        upgraded,
        "INSERT INTO users (name, role, password_hash, disabled, created_at)"
        " VALUES ('eve', 'root', 'scrypt$y', false, '2026-11-01 00:00:00')",
    )
