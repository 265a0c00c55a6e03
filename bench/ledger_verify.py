"""Benchmark: `pwatch audit verify` over a large log, 1,000,000 events by default, and the WARC
records they cite: events/s and MB/s of WARC read.

    .venv/bin/python -m bench.ledger_verify [--events 1000000] [--write]

The events are real ones multiplied: one day of bench/storage.py's items is ingested (about 1.1
events per listing), then its events are copied in SQL until N rows exist, each citing its own
response record (a 2 KB page) in one of ten WARC files written with the crawler's record layout
and indexed in `warc_records` as the crawler's pipeline does. The log is sealed once over all of
them (timed too), then verified as `pwatch audit verify` does (`ledger.verify.verify`), and once
more with the offsets removed, so every record is found by scanning its file (the old way).
`--write` replaces this benchmark's section of BENCHMARKS.md.

    .venv/bin/python -m bench.ledger_verify --events 100000 --baseline REV --write

instead times this tree's verify against the verify of git revision REV (its
`pwatch/ledger/verify.py`, loaded with `git show` over this tree's other modules) on the same
data, alternating new / old twice, in a section of its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import platform as _platform
import subprocess
import sys
import tempfile
import time
import types
import uuid
import zlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from bench import storage as storage_bench
from precursor_watch.ledger.log import seal
from precursor_watch.ledger.verify import verify
from precursor_watch.storage.bulk import executemany
from precursor_watch.storage.db import make_engine, upgrade
from precursor_watch.storage.models import Event, WarcRecord

SECTION = "## Tamper-evident ledger: `pwatch audit verify` at 1,000,000 events (`bench/ledger_verify.py`)"
BASELINE_SECTION = "## Tamper-evident ledger: verify before and after (`bench/ledger_verify.py --baseline`)"
ROOT = Path(__file__).resolve().parents[1]
D0 = dt.date(2026, 11, 1)
FILES = 10
FILLER = ("Offer text, price 120.00 USD, 1 kg foil bag, contact telegram:@fake_seller. " * 28).encode()
COPY = [c.name for c in Event.__table__.columns if c.name != "id"]


def grow_events(engine, n: int) -> int:
    """Copy the events in SQL until there are `n`; every event then cites a record of its own."""
    with engine.begin() as conn:
        have = conn.execute(select(func.count()).select_from(Event)).scalar_one()
        while have < n:
            cols = ", ".join(COPY)
            conn.execute(text(f"INSERT INTO events ({cols}) SELECT {cols} FROM events ORDER BY id LIMIT :k"),
                         {"k": n - have})  # fmt: skip
            have = conn.execute(select(func.count()).select_from(Event)).scalar_one()
        conn.execute(
            text(
                "UPDATE events SET evidence_record = '<urn:uuid:bench-' || id || '>', "
                f"evidence_file = 'evidence/bench-' || (id % {FILES}) || '.warc.gz', "
                "evidence_uri = 'http://bench.test/item/' || id"
            )
        )
    return have


def _member(record_id: str, uri: str, payload: bytes) -> bytes:
    """One gzip member holding one WARC response record, laid out as warcio writes the crawler's."""
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + payload
    head = (
        f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: {record_id}\r\nWARC-Target-URI: {uri}\r\n"
        f"WARC-Date: 2026-11-01T00:00:00.000000Z\r\n"
        f"WARC-Payload-Digest: sha256:{hashlib.sha256(payload).hexdigest()}\r\n"
        f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n"
    ).encode()
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    return gz.compress(head + http + b"\r\n\r\n") + gz.flush()


def write_warcs(engine, data_dir: Path) -> tuple[int, int]:
    """Every cited record written and indexed; the events' payload hashes set to match."""
    handles = {}
    offsets, hashes = [], []
    with Session(engine) as s:
        rows = s.execute(select(Event.id, Event.evidence_file, Event.evidence_record, Event.evidence_uri)).all()
    for event_id, warc_file, record_id, uri in rows:
        if warc_file not in handles:
            (data_dir / warc_file).parent.mkdir(parents=True, exist_ok=True)
            handles[warc_file] = open(data_dir / warc_file, "wb")  # noqa: SIM115 - closed below
        payload = f"<html><h1>{uri}</h1><p>{uuid.UUID(int=event_id)}</p>".encode() + FILLER
        fh = handles[warc_file]
        offset = fh.tell()
        fh.write(_member(record_id, uri, payload))
        offsets.append({"warc_file": warc_file, "record_id": record_id, "record_offset": offset,
                        "record_length": fh.tell() - offset})  # fmt: skip
        hashes.append((hashlib.sha256(payload).hexdigest(), event_id))
    size = sum(h.tell() for h in handles.values())
    for h in handles.values():
        h.close()
    with Session(engine) as s, s.begin():
        for start in range(0, len(offsets), 50_000):
            executemany(s, insert(WarcRecord.__table__), offsets[start : start + 50_000])
        s.connection().exec_driver_sql("UPDATE events SET evidence_sha256 = ? WHERE id = ?", hashes)
    return len(offsets), size


def timed_verify(engine, data_dir: Path, key, how=verify) -> tuple[float, object]:
    t0 = time.perf_counter()
    with Session(engine) as s:
        outcome = how(s, data_dir, key.public_key())
    return time.perf_counter() - t0, outcome


def baseline_verify(rev: str):
    """`verify` of git revision `rev`, run over this tree's other modules."""
    source = subprocess.run(
        ["git", "show", f"{rev}:pwatch/ledger/verify.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType(f"verify_at_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:pwatch/ledger/verify.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module.verify


def compare(engine, data_dir: Path, key, rev: str, events: int, started: str) -> str:
    old = baseline_verify(rev)
    runs: dict[str, list[float]] = {"new": [], "old": []}
    for _ in range(2):
        for name, how in (("new", verify), ("old", old)):
            seconds, outcome = timed_verify(engine, data_dir, key, how)
            assert outcome.ok, outcome.problems[:3]
            runs[name].append(seconds)
            print(name, seconds, flush=True)
    new, before = min(runs["new"]), min(runs["old"])
    return "\n".join(
        [
            BASELINE_SECTION,
            "",
            f"Command: `.venv/bin/python -m bench.ledger_verify --events {events} --baseline {rev} --write` "
            f"({started}, load average {os.getloadavg()[0]:.1f} at the end). SQLite, {events:,} events each citing "
            f"its own record; the same data verified by this tree and by `{rev}`'s verify, alternating, twice each.",
            "",
            "| verify | runs (s) | best | events/s |",
            "|---|---|---|---|",
            f"| this tree | {', '.join(f'{x:.1f}' for x in runs['new'])} | {new:.1f} s | {events / new:,.0f} |",
            f"| `{rev}` | {', '.join(f'{x:.1f}' for x in runs['old'])} | {before:.1f} s | {events / before:,.0f} |",
            f"| speed-up | | {before / new:.1f}× | |",
            "",
        ]
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--listings", type=int, default=20_000, help="listings ingested before the events are copied")
    ap.add_argument("--no-scan", action="store_true", help="skip the run without offsets")
    ap.add_argument("--baseline", metavar="REV", help="compare with the verify of this git revision instead")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory(prefix="pwatch-bench-verify-") as tmp:
        tmp = Path(tmp)
        url = f"sqlite:///{tmp / 'verify.db'}"
        upgrade(url)
        engine = make_engine(url)
        storage_bench._ingest_day(engine, storage_bench._items(args.listings, D0), D0, 1000)
        events = grow_events(engine, args.events)
        records, warc_size = write_warcs(engine, tmp)
        t0 = time.perf_counter()
        with Session(engine) as s, s.begin():
            seal(s, D0, key)
        seal_s = time.perf_counter() - t0
        print(
            f"{events} events, {records} records, {warc_size / 1e6:.0f} MB WARC; sealed in {seal_s:.1f} s", flush=True
        )
        if args.baseline:
            section = compare(engine, tmp, key, args.baseline, events, started)
            engine.dispose()
            print(section)
            if args.write:
                storage_bench.SECTION = BASELINE_SECTION
                storage_bench.write_section(ROOT / "BENCHMARKS.md", section)
            return 0
        verify_s, outcome = timed_verify(engine, tmp, key)
        print("verify", verify_s, flush=True)
        scan = None
        if not args.no_scan:
            with Session(engine) as s, s.begin():
                s.execute(delete(WarcRecord))
            scan = timed_verify(engine, tmp, key)
            print("verify by scanning", scan[0], flush=True)
        engine.dispose()
    assert outcome.ok and outcome.events_checked == events, outcome.problems[:3]
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python -m bench.ledger_verify --events {args.events} --write` ({started}, Python "
        f"{_platform.python_version()}, 2 shared cores, load average {os.getloadavg()[0]:.1f} at the end). "
        f"SQLite; {events:,} events, each citing its own response record ({records:,} records, "
        f"{warc_size / 1e6:,.0f} MB of .warc.gz in {FILES} files).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| seal the whole log once ({events:,} new leaves, one head) | "
        f"{seal_s:.1f} s ({events / seal_s:,.0f} events/s) |",
        f"| verify: events recomputed | {outcome.events_checked:,} in {verify_s:.1f} s = "
        f"{outcome.events_checked / verify_s:,.0f} events/s |",
        f"| verify: WARC records re-read by offset | {outcome.records:,}, {outcome.warc_read / 1e6:,.0f} MB read "
        f"({outcome.warc_read / 1e6 / verify_s:.1f} MB/s over the whole verify), "
        f"{outcome.warc_bytes / 1e6:,.0f} MB of payload re-hashed |",
    ]
    if scan is not None:
        lines.append(
            f"| verify without offsets (every file scanned with warcio, the fallback for older rows) | "
            f"{scan[0]:.1f} s = {scan[1].events_checked / scan[0]:,.0f} events/s |"
        )
    text_out = "\n".join(lines) + "\n"
    print(text_out)
    if args.write:
        storage_bench.SECTION = SECTION
        storage_bench.write_section(Path(__file__).resolve().parents[1] / "BENCHMARKS.md", text_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
