"""`pwatch audit verify`: recompute the log from the events and check every link of the chain.

Order of the checks (the first failure is "the first broken link"): each head's signature; each
logged event against its logged encoding; events missing from the log; each head's root
recomputed from the events; consistency proofs between successive heads; every cited WARC record
re-read and re-hashed; optionally an audit export's files and numbers (`ledger.exports`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.ledger.encoding import differences, event_leaf, leaf_content
from precursor_watch.ledger.log import Head, event_rows, heads
from precursor_watch.ledger.merkle import MerkleTree, ProofError, leaf_hash, verify_consistency
from precursor_watch.ledger.signing import key_id, verifies
from precursor_watch.storage.models import LedgerLeaf, Listing, Platform

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
    warc_bytes: int = 0
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


def _check_leaves(ctx: _Context, events: dict[int, dict]) -> list[bytes]:
    """Recompute each logged event's leaf; return the leaf hashes of the events as they are now."""
    hashes: list[bytes] = []
    rows = ctx.session.execute(
        select(LedgerLeaf.leaf_index, LedgerLeaf.event_id, LedgerLeaf.leaf_hash, LedgerLeaf.leaf_data).order_by(
            LedgerLeaf.leaf_index
        )
    )
    for index, event_id, stored_hash, data in rows:
        logged = json.loads(data)
        if index != len(hashes):
            ctx.outcome.problems.append(
                f"leaf {len(hashes)} of the log is missing (next stored leaf is {index}): a leaf was deleted"
            )
            ctx.leaf_events.extend(None for _ in range(index - len(hashes)))
            hashes.extend(DELETED for _ in range(index - len(hashes)))
        ctx.leaf_events.append(event_id)
        if leaf_hash(data.encode("utf-8")).hex() != stored_hash:
            ctx.outcome.problems.append(
                f"leaf {index} ({ctx.event(logged)}): its stored hash does not match its logged encoding"
            )
        row = events.pop(event_id, None)
        if row is None:
            if ctx.in_period(logged["occurred_on"]):
                ctx.outcome.problems.append(
                    f"{ctx.event(logged)}, leaf {index}: deleted from the events after it was logged"
                )
            hashes.append(DELETED)
            continue
        current, digest = event_leaf(row)
        if current != data and (ctx.in_period(logged["occurred_on"]) or ctx.in_period(row["occurred_on"])):
            changed = "; ".join(differences(data, leaf_content(row)))
            ctx.outcome.problems.append(f"{ctx.event(logged)}, leaf {index}: changed after it was logged: {changed}")
        ctx.outcome.events_checked += 1
        hashes.append(digest)
    ctx.outcome.leaves = len(hashes)
    return hashes


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


def _payloads(ctx: _Context, warc_file: str) -> dict[str, tuple[str, str]] | str:
    """record id -> (payload SHA-256, target URI) of one WARC file, or why it cannot be read."""
    from precursor_watch.crawlers.warc import iter_records

    path = ctx.data_dir / warc_file
    if not path.is_file():
        return f"WARC file {warc_file} is missing"
    found = {}
    for record in iter_records(path):
        ctx.outcome.warc_bytes += len(record.payload)
        found[record.record_id] = (hashlib.sha256(record.payload).hexdigest(), record.url)
    return found


def _check_evidence(ctx: _Context, events: list[dict]) -> None:
    by_file: dict[str, list[dict]] = defaultdict(list)
    for row in events:
        if row["evidence_record"] and ctx.in_period(row["occurred_on"]):
            by_file[row["evidence_file"] or ""].append(row)
    for warc_file in sorted(by_file):
        records = _payloads(ctx, warc_file)
        for row in by_file[warc_file]:
            what = ctx.event(leaf_content(row))
            if isinstance(records, str):
                ctx.outcome.problems.append(f"{what}: {records}")
                continue
            found = records.get(row["evidence_record"])
            ctx.outcome.records += 1
            if found is None:
                ctx.outcome.problems.append(f"{what}: WARC record {row['evidence_record']} is not in {warc_file}")
            elif found[0] != row["evidence_sha256"]:
                ctx.outcome.problems.append(
                    f"{what}: WARC record {row['evidence_record']} in {warc_file} has payload "
                    f"SHA-256 {found[0]}, the event cites {row['evidence_sha256']}"
                )
            elif row["evidence_uri"] and found[1] != row["evidence_uri"]:
                ctx.outcome.problems.append(
                    f"{what}: WARC record {row['evidence_record']} targets {found[1]}, "
                    f"the event cites {row['evidence_uri']}"
                )


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
    events = {row["id"]: dict(row) for row in event_rows(session)}
    all_rows = list(events.values())
    tree = MerkleTree(_check_leaves(ctx, events))
    _check_unlogged(ctx, events, ctx.outcome.last_head)
    _check_roots(ctx, tree, chosen)
    _check_evidence(ctx, all_rows)
    return ctx.outcome
