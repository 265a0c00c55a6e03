"""The per-connection staging table that ingest moves a batch of sightings through.

One `executemany` puts a batch's items here (one row per listing), then listings, snapshots and
observations are written from it with set-based `INSERT .. SELECT` statements. On a day where
every listing is new that replaced three per-row `executemany` calls: measured with
`bench/storage.py`, SQLite spends a fraction of the time on one set-based statement that it
spends stepping the same rows one by one, and Python builds one row per item instead of three.

It is a TEMPORARY table (private to the connection, on SQLite and PostgreSQL); ingest creates it
if needed and empties it before and after each batch, inside the batch's SAVEPOINT.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Integer, MetaData, String, Table, Text, delete, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from precursor_watch.storage.models import CURRENCY_LEN, LANG_LEN, NAME_LEN, SHOWN_LEN

# The listing's content: the last columns of a staged row, staged only when a snapshot is due.
CONTENT = (
    ("title", Text),
    ("text", Text),
    ("seller_name", String(NAME_LEN)),
    ("contacts", JSON),
    ("lang", String(LANG_LEN)),
    ("price", String(SHOWN_LEN)),
    ("currency", String(CURRENCY_LEN)),
    ("posted_at", String(SHOWN_LEN)),
    ("offer_signals", JSON),
)

# What each row asks ingest to do with it.
OBS_INSERT, OBS_UPDATE = 1, 2  # `obs`: a new sighting of this run / a rerun's sighting overwritten in place

STAGE = Table(
    "pw_ingest_stage",
    MetaData(),
    Column("seq", Integer, nullable=False, comment="position in the batch: keeps insert order (and ids) stable"),
    Column("listing_key", String(200), nullable=False),
    Column("listing_id", BigInteger, comment="known listing; filled in after the insert for new ones"),
    Column("url", Text, nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("account_id", BigInteger),
    Column("store_id", BigInteger),
    Column("http_status", Integer),
    Column("evidence_file", Text),
    Column("evidence_record", Text),
    Column("evidence_sha256", String(64)),
    Column("evidence_uri", Text),
    Column("fresh", Integer, nullable=False, comment="1: the listing is new, insert it"),
    Column("snap", Integer, nullable=False, comment="1: store a snapshot of this content"),
    Column("obs", Integer, nullable=False, comment="0: no observation row (a later item has this URL), else OBS_*"),
    # From here on a staged row may stop early (see `fill_stage`): most pages carry no validators
    # and most revisits no new content.
    Column("etag", Text, comment="the answer's ETag (new listings take it; known ones are updated apart)"),
    Column("last_modified", String(64)),
    # The content, staged only for rows with snap=1 (NULL otherwise: a revisit needs none of it).
    *(Column(name, type_) for name, type_ in CONTENT),
    prefixes=["TEMPORARY"],
)


_DDL: dict[str, str] = {}  # CREATE statement by dialect name, compiled once


def open_stage(session: Session) -> Table:
    """The staging table, created on this connection if needed.

    It is empty here: every batch clears it inside its SAVEPOINT, and a failed batch rolls its
    rows back with everything else.
    """
    conn = session.connection()
    name = conn.dialect.name
    if name not in _DDL:
        _DDL[name] = str(CreateTable(STAGE, if_not_exists=True).compile(dialect=conn.dialect))
    conn.exec_driver_sql(_DDL[name])
    return STAGE


COLUMNS = tuple(c.name for c in STAGE.c)  # the order of the values in a staged row
# The lengths a staged row may have: up to `obs`, up to `last_modified`, or all of COLUMNS.
ROW_LENGTHS = (COLUMNS.index("obs") + 1, COLUMNS.index("last_modified") + 1, len(COLUMNS))
_INSERT: dict[tuple[str, int], str] = {}  # INSERT statement by dialect name and row length, compiled once


def fill_stage(session: Session, rows: list[tuple]) -> None:
    """Put a batch into the stage: one tuple per item with its values in COLUMNS order, the JSON
    columns (`contacts`, `offer_signals`) already serialised by `json.dumps` (what SQLAlchemy's JSON type stores).

    A row may stop early, at one of `ROW_LENGTHS`: the columns it leaves out are NULL. Rows go in
    one statement per length, so a revisit without validators or new content binds 15 values, not
    26 (binding the trailing NULLs was most of what two more stage columns cost a steady-state day).

    SQLite: one executemany per length. PostgreSQL: COPY, its bulk-load path (pipelined
    executemany of these wide rows was half of a first-day ingest there), then ANALYZE:
    PostgreSQL never analyzes temporary tables itself, and without statistics it planned the joins
    from the stage as scans of the whole observations table.
    """
    if not rows:
        return
    by_length: dict[int, list[tuple]] = {}
    for row in rows:
        by_length.setdefault(len(row), []).append(row)
    if not by_length.keys() <= set(ROW_LENGTHS):
        raise ValueError(f"staging: rows of {sorted(by_length)} values; a staged row has one of {ROW_LENGTHS}")
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        if driver is None:
            raise RuntimeError("staging: the PostgreSQL connection has no driver connection")
        cursor = driver.cursor()
        for length, group in by_length.items():
            with cursor.copy(f"COPY {STAGE.name} ({', '.join(COLUMNS[:length])}) FROM STDIN") as copy:
                for row in group:
                    copy.write_row(row)
        conn.exec_driver_sql(f"ANALYZE {STAGE.name}")
        return
    for length, group in by_length.items():
        conn.exec_driver_sql(_insert(conn.dialect, length), group)


def _insert(dialect: Dialect, length: int) -> str:
    """The stage's INSERT of the first `length` columns, compiled once per dialect and length."""
    key = (dialect.name, length)
    if key not in _INSERT:
        columns = COLUMNS[:length]
        compiled = insert(STAGE).compile(dialect=dialect, column_keys=list(columns))
        if tuple(compiled.positiontup or ()) != columns:  # pragma: no cover - a qmark dialect keeps column order
            raise RuntimeError(f"{dialect.name}: staged INSERT binds {compiled.positiontup}, expected {columns}")
        _INSERT[key] = str(compiled)
    return _INSERT[key]


def clear_stage(session: Session) -> None:
    """Empty the stage. PostgreSQL: TRUNCATE, because DELETE leaves dead rows that nothing vacuums
    in a temporary table, and the scans of the stage grew with every batch (quadratic ingest)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"TRUNCATE {STAGE.name}")
    else:
        conn.execute(delete(STAGE))
