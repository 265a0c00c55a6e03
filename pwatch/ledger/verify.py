"""`pwatch audit verify`: recompute the log from the events and check every link of the chain.

Order of the checks (the first failure is "the first broken link"): each head's signature; each
logged event against its logged encoding; events missing from the log; each head's root
recomputed from the events; consistency proofs between successive heads; every cited WARC record
re-read and re-hashed; optionally an audit export's files and numbers (`ledger.exports`).

It is one pass over the leaves joined to their events (streamed, canonical encodings rebuilt as
text), one query for unlogged events, and one pass over the cited records in file order, each read
with one seek at its stored offset (`warc_records`; a record without one is found by scanning its
file once), so a million events verify in minutes, not hours (BENCHMARKS.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.ledger.encoding import decode, differences, leaf_content, row_leaf, row_mapping, version_of
from precursor_watch.ledger.log import Head, event_columns, heads
from precursor_watch.ledger.merkle import MerkleTree, ProofError, leaf_hash, verify_consistency
from precursor_watch.ledger.signing import key_id, verifies
from precursor_watch.storage.models import Event, LedgerLeaf, Listing, Platform, WarcRecord

BATCH = 5000

# Stands in for the leaf of a deleted event: no SHA-256 output is known to equal it, so every head
# covering it fails to recompute, as it must.
DELETED = b"\x00" * 32


@dataclass
class Outcome:
    """What was checked and every broken link found, in chain order."""

    heads: int = 0
    leaves: int = 0
    events_checked: int = 0
    pending: int = 0
    pending_ids: list[int] = field(default_factory=list)
    records: int = 0
    warc_bytes: int = 0  # payload bytes re-hashed
    warc_read: int = 0  # bytes read from WARC files (compressed, as stored)
    export_numbers: int = 0
    problems: list[str] = field(default_factory=list)
    first_head: Head | None = None
    last_head: Head | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Context:
    session: Session
    data_dir: Path
    public: Ed25519PublicKey
    date_from: dt.date | None
    date_to: dt.date | None
    outcome: Outcome
    listing_names: dict[int, str] = field(default_factory=dict)
    leaf_events: list[int | None] = field(default_factory=list)  # event id of each leaf, in leaf order
    scans: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # files read whole
    handles: dict[str, BinaryIO] = field(default_factory=dict)  # the WARC file being read by offset

    def close_handles(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()

    def in_period(self, day: str | dt.date) -> bool:
        day = dt.date.fromisoformat(day) if isinstance(day, str) else day
        return (self.date_from is None or day >= self.date_from) and (self.date_to is None or day <= self.date_to)

    def listing(self, listing_id: int | None) -> str:
        if listing_id is None:
            return "no listing"
        if not self.listing_names:
            rows = self.session.execute(select(Listing.id, Platform.name, Listing.listing_key).join(Platform))
            self.listing_names = {i: f"{p}/{k}" for i, p, k in rows}
        return f"listing {self.listing_names.get(listing_id, f'#{listing_id} (no such listing)')}"

    def event(self, content: dict[str, Any]) -> str:
        return (
            f"event {content['event_id']} ({content['kind']}, {content['occurred_on']}, "
            f"{self.listing(content.get('listing_id'))})"
        )


def _check_signatures(ctx: _Context, chosen: list[Head]) -> None:
    expected = key_id(ctx.public)
    for h in chosen:
        where = f"signed head #{h.id} of {h.head_date} (tree size {h.tree_size})"
        if h.key_id != expected:
            ctx.outcome.problems.append(
                f"{where}: signed by key {h.key_id[:16]}…, not by the verifying key {expected[:16]}…"
            )
        elif not verifies(ctx.public, h.statement().message(), h.signature):
            ctx.outcome.problems.append(
                f"{where}: its signature does not verify (date, size or root changed after signing)"
            )


def _stream(ctx: _Context, query) -> Iterator[tuple]:
    result = ctx.session.connection().execute(query.execution_options(stream_results=True, max_row_buffer=BATCH))
    for part in result.partitions(BATCH):
        yield from part


def _leaf_problem(ctx: _Context, index: int, data: str, stored_hash: str, event: tuple) -> bytes:
    """The checks of a leaf whose event no longer encodes to it (or is gone); its hash now."""
    try:
        logged, version = decode(data), version_of(data)
    except ValueError:
        ctx.outcome.problems.append(f"leaf {index} (event {event[0]}): its logged encoding is not a leaf encoding")
        return DELETED if event[0] is None else row_leaf(event)[1]
    if leaf_hash(data.encode("utf-8")).hex() != stored_hash:
        ctx.outcome.problems.append(
            f"leaf {index} ({ctx.event(logged)}): its stored hash does not match its logged encoding"
        )
    if event[0] is None:
        if ctx.in_period(logged["occurred_on"]):
            ctx.outcome.problems.append(
                f"{ctx.event(logged)}, leaf {index}: deleted from the events after it was logged"
            )
        return DELETED
    current = leaf_content(row_mapping(event), version)
    if ctx.in_period(logged["occurred_on"]) or ctx.in_period(current["occurred_on"]):
        changed = "; ".join(differences(data, current))
        ctx.outcome.problems.append(f"{ctx.event(logged)}, leaf {index}: changed after it was logged: {changed}")
    ctx.outcome.events_checked += 1
    return row_leaf(event, version)[1]


def _check_leaves(ctx: _Context) -> list[bytes]:
    """Recompute each logged event's leaf (one pass over the leaves joined to their events);
    return the leaf hashes of the events as they are now."""
    hashes: list[bytes] = []
    leaves = LedgerLeaf.__table__
    query = (
        select(leaves.c.leaf_index, leaves.c.event_id, leaves.c.leaf_hash, leaves.c.leaf_data, *event_columns())
        .select_from(leaves.outerjoin(Event.__table__, Event.__table__.c.id == leaves.c.event_id))
        .order_by(leaves.c.leaf_index)
    )
    for index, event_id, stored_hash, data, *event in _stream(ctx, query):
        if index != len(hashes):
            ctx.outcome.problems.append(
                f"leaf {len(hashes)} of the log is missing (next stored leaf is {index}): a leaf was deleted"
            )
            ctx.leaf_events.extend(None for _ in range(index - len(hashes)))
            hashes.extend(DELETED for _ in range(index - len(hashes)))
        ctx.leaf_events.append(event_id)
        if event[0] is not None:
            current, digest = row_leaf(event, version_of(data))
            if current == data and digest.hex() == stored_hash:  # the common case: nothing changed
                ctx.outcome.events_checked += 1
                hashes.append(digest)
                continue
        hashes.append(_leaf_problem(ctx, index, data, stored_hash, tuple(event)))
    ctx.outcome.leaves = len(hashes)
    return hashes


def _unlogged(ctx: _Context) -> dict[int, dict]:
    logged = select(LedgerLeaf.event_id).where(LedgerLeaf.event_id == Event.id).exists()
    query = select(*event_columns()).where(~logged).order_by(Event.id)
    return {row[0]: row_mapping(tuple(row)) for row in _stream(ctx, query)}


def _check_unlogged(ctx: _Context, unlogged: dict[int, dict], last: Head | None) -> None:
    """An unlogged event dated before the latest head's date should have been sealed by it; one
    dated that day or later may be legitimately new (a review after the day's run): pending."""
    for event_id in sorted(unlogged):
        content = leaf_content(unlogged[event_id])
        if (
            last is not None
            and dt.date.fromisoformat(content["occurred_on"]) < last.head_date
            and ctx.in_period(content["occurred_on"])
        ):
            ctx.outcome.problems.append(
                f"{ctx.event(content)}: not in the log, yet dated before the latest signed head "
                f"({last.head_date}, size {last.tree_size}): inserted after sealing"
            )
        else:
            ctx.outcome.pending += 1
            ctx.outcome.pending_ids.append(event_id)


def _out_of_order(ctx: _Context, start: int, end: int) -> str:
    """A hint for a reordered log: leaves whose events are out of id order (sealing appends in id
    order, so this names the swapped events unless concurrent writers interleaved)."""
    ids = ctx.leaf_events[start:end]
    for i in range(1, len(ids)):
        earlier, later = ids[i - 1], ids[i]
        if earlier is not None and later is not None and later < earlier:
            return (
                f"; leaf {start + i - 1} holds event {earlier} before leaf {start + i} with event {later}: "
                f"the log's order was changed"
            )
    return ""


def _check_roots(ctx: _Context, tree: MerkleTree, chosen: list[Head]) -> None:
    ordered = sorted(chosen, key=lambda h: (h.tree_size, h.id))
    previous: Head | None = None
    for h in ordered:
        where = f"signed head #{h.id} of {h.head_date} (tree size {h.tree_size})"
        if h.tree_size > len(tree):
            ctx.outcome.problems.append(
                f"{where}: covers {h.tree_size} leaves but the log holds {len(tree)}: leaves were deleted"
            )
        elif tree.root(h.tree_size).hex() != h.root_hash:
            start = previous.tree_size if previous else 0
            ctx.outcome.problems.append(
                f"{where}: the events it covers no longer hash to its signed root "
                f"(leaves {start}..{h.tree_size - 1} differ from what was signed)"
                + _out_of_order(ctx, start, h.tree_size)
            )
        elif previous is not None:
            proof = tree.consistency_proof(previous.tree_size, h.tree_size)
            try:
                verify_consistency(
                    previous.tree_size,
                    h.tree_size,
                    bytes.fromhex(previous.root_hash),
                    bytes.fromhex(h.root_hash),
                    proof,
                )
            except ProofError as exc:
                ctx.outcome.problems.append(
                    f"{where}: not consistent with head #{previous.id} of {previous.head_date}: {exc}"
                )
        previous = h


def _scanned(ctx: _Context, warc_file: str) -> dict[str, tuple[str, str]] | str:
    """record id -> (payload SHA-256, target URI) of one WARC file, or why it cannot be read: the
    fallback for records without a stored offset (read once per file)."""
    from precursor_watch.crawlers.warc import iter_records

    found = ctx.scans.get(warc_file)
    if found is not None:
        return found
    path = ctx.data_dir / warc_file
    if not path.is_file():
        return f"WARC file {warc_file} is missing"
    records = {}
    ctx.outcome.warc_read += path.stat().st_size
    for record in iter_records(path):
        ctx.outcome.warc_bytes += len(record.payload)
        records[record.record_id] = (hashlib.sha256(record.payload).hexdigest(), record.url)
    ctx.scans[warc_file] = records
    return records


def _at_offset(ctx: _Context, warc_file: str, record_id: str, offset: int, length: int) -> tuple[str, str] | None:
    """(payload SHA-256, target URI) of the record at its stored offset; None when the bytes
    there are not that record (the file was rewritten: the caller scans it instead)."""
    from precursor_watch.crawlers.warc import parse_member

    handle = ctx.handles.get(warc_file)
    if handle is None:
        path = ctx.data_dir / warc_file
        if not path.is_file():
            return None
        ctx.close_handles()
        handle = ctx.handles[warc_file] = open(path, "rb")  # noqa: SIM115 - closed by close_handles
    handle.seek(offset)
    member = handle.read(length)
    ctx.outcome.warc_read += len(member)
    try:
        stored = parse_member(member, f"{warc_file} at byte {offset}")
    except (LookupError, ValueError):
        return None
    if stored.record_id != record_id:
        return None
    ctx.outcome.warc_bytes += len(stored.payload)
    return hashlib.sha256(stored.payload).hexdigest(), stored.url


def _cited(ctx: _Context):
    """Events citing a record, in the period, in file and offset order (one pass over each file)."""
    e, w = Event.__table__, WarcRecord.__table__
    query = (
        select(
            e.c.id,
            e.c.evidence_file,
            e.c.evidence_record,
            e.c.evidence_sha256,
            e.c.evidence_uri,
            w.c.record_offset,
            w.c.record_length,
        )  # fmt: skip
        .select_from(e.outerjoin(w, (w.c.warc_file == e.c.evidence_file) & (w.c.record_id == e.c.evidence_record)))
        .where(e.c.evidence_record.is_not(None))
        .order_by(e.c.evidence_file, w.c.record_offset, e.c.id)
    )
    if ctx.date_from is not None:
        query = query.where(e.c.occurred_on >= ctx.date_from)
    if ctx.date_to is not None:
        query = query.where(e.c.occurred_on <= ctx.date_to)
    return query


def _evidence_problem(ctx: _Context, event_id: int, what: str) -> None:
    row = ctx.session.execute(select(*event_columns()).where(Event.id == event_id)).one()
    ctx.outcome.problems.append(f"{ctx.event(leaf_content(row_mapping(tuple(row))))}: {what}")


def _check_evidence(ctx: _Context) -> None:
    last: tuple[tuple[str, str], tuple[str, str] | str | None] | None = None
    try:
        for event_id, warc_file, record_id, sha, uri, offset, length in _stream(ctx, _cited(ctx)):
            warc_file = warc_file or ""
            ctx.outcome.records += 1
            if last is not None and last[0] == (warc_file, record_id):
                found = last[1]  # the same record cited again: read once
            else:
                found = _at_offset(ctx, warc_file, record_id, offset, length) if offset is not None else None
                if found is None:
                    scanned = _scanned(ctx, warc_file)
                    found = scanned if isinstance(scanned, str) else scanned.get(record_id)
                last = ((warc_file, record_id), found)
            if isinstance(found, str):
                _evidence_problem(ctx, event_id, found)
            elif found is None:
                _evidence_problem(ctx, event_id, f"WARC record {record_id} is not in {warc_file}")
            elif found[0] != sha:
                _evidence_problem(
                    ctx,
                    event_id,
                    f"WARC record {record_id} in {warc_file} has payload SHA-256 {found[0]}, the event cites {sha}",
                )
            elif uri and found[1] != uri:
                _evidence_problem(ctx, event_id, f"WARC record {record_id} targets {found[1]}, the event cites {uri}")
    finally:
        ctx.close_handles()


def verify(
    session: Session,
    data_dir: Path,
    public: Ed25519PublicKey,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Outcome:
    """Check the log, its heads and the cited evidence; the outcome lists every broken link."""
    ctx = _Context(session, Path(data_dir), public, date_from, date_to, Outcome())
    every = heads(session)
    chosen = [h for h in every if ctx.in_period(h.head_date)]
    ctx.outcome.heads = len(chosen)
    ctx.outcome.first_head = every[0] if every else None
    ctx.outcome.last_head = max(every, key=lambda h: (h.tree_size, h.id)) if every else None
    _check_signatures(ctx, chosen)
    tree = MerkleTree(_check_leaves(ctx))
    _check_unlogged(ctx, _unlogged(ctx), ctx.outcome.last_head)
    _check_roots(ctx, tree, chosen)
    _check_evidence(ctx)
    return ctx.outcome
