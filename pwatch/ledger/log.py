"""Appending to the log and sealing it: the one entry point the daily run calls (`seal`).

Every event without a leaf gets one, in id order, in bulk INSERTs; then the head (date, size,
root) is signed and stored unless a head of that date and size exists, so a rerun of a date that
wrote no event adds neither leaves nor heads. The root comes from the latest head's frontier (its
compact range) extended by the new leaves: sealing reads and hashes only what is new.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Dialect, RowMapping, Table, Text, func, insert, select, type_coerce
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from precursor_watch.ledger.encoding import COLUMNS, encode_row
from precursor_watch.ledger.merkle import Frontier, leaf_hash
from precursor_watch.ledger.signing import HeadStatement, key_id, sign
from precursor_watch.storage.models import Event, LedgerHead, LedgerLeaf

BATCH = 5000


@dataclass(frozen=True)
class Head:
    id: int
    head_date: dt.date
    tree_size: int
    root_hash: str
    key_id: str
    signature: str

    def statement(self) -> HeadStatement:
        return HeadStatement(self.head_date.isoformat(), self.tree_size, self.root_hash)

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "date": self.head_date.isoformat(),
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "key_id": self.key_id,
            "signature": self.signature,
        }


@dataclass(frozen=True)
class SealResult:
    appended: int
    head: Head
    new_head: bool


def event_rows(session: Session, where=None, order=Event.id) -> Iterator[RowMapping]:
    """events rows as mappings of `encoding.COLUMNS`, streamed (Core rows: the ORM's per-row
    machinery cost more than the encoding)."""
    table = Event.__table__
    query = select(*(table.c[c] for c in COLUMNS)).order_by(order)
    if where is not None:
        query = query.where(where)
    result = session.connection().execute(query.execution_options(stream_results=True, max_row_buffer=BATCH))
    for part in result.mappings().partitions(BATCH):
        yield from part


def event_columns() -> list:
    """The events columns of `encoding.COLUMNS`, each as the driver returns it (no SQLAlchemy
    result processing; details as their stored JSON text)."""
    table = Event.__table__
    columns = [type_coerce(table.c[c], NullType()) for c in COLUMNS[:-1]]
    columns.append(type_coerce(sql_cast(table.c.details, Text), NullType()))
    return columns


def row_tuples(session: Session, where=None, order=Event.id, extra=()) -> Iterator[tuple]:
    """events rows as plain tuples in `encoding.COLUMNS` order (then `extra`), each value as the
    driver returns it (details as their stored JSON text): what `encoding.encode_row` reads,
    streamed, without SQLAlchemy's per-value result processing."""
    query = select(*event_columns(), *extra).order_by(order)
    if where is not None:
        query = query.where(where)
    result = session.connection().execute(query.execution_options(stream_results=True, max_row_buffer=BATCH))
    for part in result.partitions(BATCH):
        yield from map(tuple, part)


def leaf_hashes(session: Session) -> list[bytes]:
    """The stored leaf hashes in append order."""
    return [bytes.fromhex(h) for h in session.scalars(select(LedgerLeaf.leaf_hash).order_by(LedgerLeaf.leaf_index))]


def _unlogged_pages(conn: Connection) -> Iterator[list[tuple]]:
    """The events without a leaf, in id order, as pages of `row_tuples`-shaped tuples.

    One query, streamed (a server-side cursor on PostgreSQL; SQLite steps as rows are fetched),
    read with the driver's own cursor: a result-row object per event cost as much as the query."""
    sql, params = _unlogged_query(conn.dialect)
    named = {"name": "pwatch_ledger_unlogged"} if conn.dialect.name == "postgresql" else {}
    cursor = conn.connection.cursor(**named)
    try:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(BATCH):
            yield list(rows)
    finally:
        cursor.close()


@functools.lru_cache(maxsize=8)
def _unlogged_query(dialect: Dialect) -> tuple[str, tuple | dict]:
    """The SQL of the unlogged events and its (empty) parameters, compiled once per dialect (a
    compile took ~10 ms, paid by every sealing)."""
    logged = select(LedgerLeaf.event_id).where(LedgerLeaf.event_id == Event.id).exists()
    compiled = select(*event_columns()).where(~logged).order_by(Event.id).compile(dialect=dialect)
    params = compiled.construct_params()
    if compiled.positional:
        return str(compiled), tuple(params[name] for name in compiled.positiontup or ())
    return str(compiled), dict(params)


def _driver_rows(compiled, keys: tuple[str, ...], rows: list[tuple]) -> list:
    """Rows given as tuples in `keys` order, in the compiled statement's driver style. For columns
    without bind processing (as the leaf columns are): the values go to the driver as they are."""
    if not compiled.positional:
        return [dict(zip(keys, row, strict=True)) for row in rows]
    if tuple(compiled.positiontup) == keys:
        return rows
    order = [keys.index(name) for name in compiled.positiontup]
    return [tuple(row[i] for i in order) for row in rows]


LEAF_KEYS = ("leaf_index", "event_id", "leaf_hash", "leaf_data")


def _append(session: Session, size: int, frontier: Frontier) -> int:
    """Log every event without a leaf from leaf `size` on, extending `frontier` with each: per page
    of events, encode, hash and insert the leaves in bulk through the driver's cursor."""
    conn = session.connection()
    compiled = insert(cast(Table, LedgerLeaf.__table__)).compile(dialect=conn.dialect, column_keys=list(LEAF_KEYS))
    sql = str(compiled)
    index = size
    cursor = conn.connection.cursor()
    try:
        for rows in _unlogged_pages(conn):
            datas = list(map(encode_row, rows))
            hashes = [leaf_hash(data.encode("utf-8")) for data in datas]
            frontier.extend(hashes)
            leaves = [
                (index + i, row[0], digest.hex(), data)
                for i, (row, digest, data) in enumerate(zip(rows, hashes, datas, strict=True))
            ]
            cursor.executemany(sql, _driver_rows(compiled, LEAF_KEYS, leaves))
            index += len(rows)
    finally:
        cursor.close()
    return index - size


def _frontier(session: Session, size: int) -> Frontier:
    """The compact range of the first `size` leaves: the largest head's frontier extended by the
    leaf hashes after it (all of them once, for a log sealed before heads kept frontiers)."""
    h = session.scalars(
        select(LedgerHead)
        .where(LedgerHead.tree_size <= size, LedgerHead.frontier.is_not(None))
        .order_by(LedgerHead.tree_size.desc(), LedgerHead.id.desc())
        .limit(1)
    ).first()
    frontier = Frontier() if h is None or h.frontier is None else Frontier.parse(h.tree_size, h.frontier)
    after = (
        select(LedgerLeaf.leaf_hash)
        .where(LedgerLeaf.leaf_index >= frontier.size, LedgerLeaf.leaf_index < size)
        .order_by(LedgerLeaf.leaf_index)
    )
    frontier.extend(bytes.fromhex(x) for x in session.scalars(after))
    return frontier


def heads(session: Session, ids: Iterable[int] | None = None) -> list[Head]:
    query = select(LedgerHead).order_by(LedgerHead.id)
    if ids is not None:
        query = query.where(LedgerHead.id.in_(list(ids)))
    return [_head(h) for h in session.scalars(query)]


def latest_head(session: Session, on_or_before: dt.date | None = None) -> Head | None:
    query = select(LedgerHead).order_by(LedgerHead.tree_size.desc(), LedgerHead.id.desc()).limit(1)
    if on_or_before is not None:
        query = query.where(LedgerHead.head_date <= on_or_before)
    h = session.scalars(query).first()
    return None if h is None else _head(h)


def _head(row: LedgerHead) -> Head:
    return Head(row.id, row.head_date, row.tree_size, row.root_hash, row.key_id, row.signature)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while the leaves are built. That loop makes no reference
    cycles, but its row tuples (thousands per page) trigger collections, and a full one walks
    every object of the process (the ingest's, the detector's model in a daily run): in
    bench/ledger.py that was about a third of sealing's CPU time. The collector's state is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def seal(session: Session, day: dt.date, key: Ed25519PrivateKey) -> SealResult:
    """Log every unlogged event and sign the head of `day` (in the caller's transaction)."""
    size = session.scalar(select(func.count()).select_from(LedgerLeaf)) or 0
    frontier = _frontier(session, size)
    with _collector_paused():
        appended = _append(session, size, frontier)
    size = frontier.size
    existing = session.scalars(
        select(LedgerHead).where(LedgerHead.head_date == day, LedgerHead.tree_size == size)
    ).first()
    if existing is not None:
        return SealResult(appended, _head(existing), new_head=False)
    statement = HeadStatement(day.isoformat(), size, frontier.root().hex())
    row = LedgerHead(
        head_date=day,
        tree_size=size,
        root_hash=statement.root_hash,
        key_id=key_id(key.public_key()),
        signature=sign(key, statement.message()),
        frontier=frontier.serialize(),
    )
    session.add(row)
    session.flush()
    return SealResult(appended, _head(row), new_head=True)
