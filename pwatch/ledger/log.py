"""Appending to the log and sealing it: the one entry point the daily run calls (`seal`).

Every event without a leaf gets one, in id order, in a single bulk INSERT; then the head (date,
size, root) is signed and stored unless a head of that date and size exists, so a rerun of a date
that wrote no event adds neither leaves nor heads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import RowMapping, Table, func, insert, select
from sqlalchemy.orm import Session

from precursor_watch.ledger.encoding import COLUMNS, event_leaf
from precursor_watch.ledger.merkle import MerkleTree
from precursor_watch.ledger.signing import HeadStatement, key_id, sign
from precursor_watch.storage.bulk import executemany
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


def leaf_hashes(session: Session) -> list[bytes]:
    """The stored leaf hashes in append order."""
    return [bytes.fromhex(h) for h in session.scalars(select(LedgerLeaf.leaf_hash).order_by(LedgerLeaf.leaf_index))]


def _append(session: Session) -> int:
    size = session.scalar(select(func.count()).select_from(LedgerLeaf)) or 0
    logged = select(LedgerLeaf.event_id).where(LedgerLeaf.event_id == Event.id).exists()
    rows, index = [], size
    for row in event_rows(session, where=~logged):
        data, digest = event_leaf(row)
        rows.append({"leaf_index": index, "event_id": row["id"], "leaf_hash": digest.hex(), "leaf_data": data})
        index += 1
    for start in range(0, len(rows), BATCH):
        executemany(session, insert(cast(Table, LedgerLeaf.__table__)), rows[start : start + BATCH])
    return len(rows)


def heads(session: Session, ids: Iterable[int] | None = None) -> list[Head]:
    query = select(LedgerHead).order_by(LedgerHead.id)
    if ids is not None:
        query = query.where(LedgerHead.id.in_(list(ids)))
    return [Head(h.id, h.head_date, h.tree_size, h.root_hash, h.key_id, h.signature) for h in session.scalars(query)]


def latest_head(session: Session, on_or_before: dt.date | None = None) -> Head | None:
    query = select(LedgerHead).order_by(LedgerHead.tree_size.desc(), LedgerHead.id.desc()).limit(1)
    if on_or_before is not None:
        query = query.where(LedgerHead.head_date <= on_or_before)
    h = session.scalars(query).first()
    return None if h is None else Head(h.id, h.head_date, h.tree_size, h.root_hash, h.key_id, h.signature)


def seal(session: Session, day: dt.date, key: Ed25519PrivateKey) -> SealResult:
    """Log every unlogged event and sign the head of `day` (in the caller's transaction)."""
    appended = _append(session)
    session.flush()
    tree = MerkleTree(leaf_hashes(session))
    size = len(tree)
    existing = session.scalars(
        select(LedgerHead).where(LedgerHead.head_date == day, LedgerHead.tree_size == size)
    ).first()
    if existing is not None:
        head = Head(
            existing.id, existing.head_date, existing.tree_size, existing.root_hash, existing.key_id, existing.signature
        )
        return SealResult(appended, head, new_head=False)
    statement = HeadStatement(day.isoformat(), size, tree.root().hex())
    row = LedgerHead(
        head_date=day,
        tree_size=size,
        root_hash=statement.root_hash,
        key_id=key_id(key.public_key()),
        signature=sign(key, statement.message()),
    )
    session.add(row)
    session.flush()
    head = Head(row.id, day, size, row.root_hash, row.key_id, row.signature)
    return SealResult(appended, head, new_head=True)
