"""Benchmark: the tamper-evident ledger. (1) The daily ingest of N listings over several days
without the ledger and with it (sealing after each day), in the same run, alternating. (2)
`pwatch audit verify`'s work (ledger.verify.verify) over the resulting events, with a real WARC
file holding every cited record: events/s and MB/s of WARC payload read.

    .venv/bin/python -m bench.ledger [--listings 20000] [--days 3] [--write]

Ingest uses bench/storage.py's items (day 2 on: 10% edited, 2% gone) and its one-transaction-per-
batch loop. `--write` replaces this benchmark's section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import platform as _platform
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from bench import storage as storage_bench
from precursor_watch.ledger.log import seal
from precursor_watch.ledger.verify import verify
from precursor_watch.storage.bulk import executemany
from precursor_watch.storage.db import make_engine, upgrade
from precursor_watch.storage.models import Event, Listing, WarcRecord

SECTION = "## Tamper-evident ledger: ingest with and without the log, verify rate (`bench/ledger.py`)"
D0 = dt.date(2026, 11, 1)
NOTE = (
    "Reading: sealing streams the unlogged events as the driver returns them, builds each leaf's canonical "
    "text directly (no per-row ORM or JSON-type processing), hashes it, extends the latest head's frontier "
    "(compact range) and inserts the leaves in batches; no old leaf is read. What is left is per-event "
    "Python and the leaf insert (its canonical encoding is kept to name changed fields), paid once per new "
    "event. The verify row is over this run's events with every record read by offset; the rate at "
    "1,000,000 events is in the next section."
)


def _day_items(n: int, day_index: int) -> dict:
    day = D0 + dt.timedelta(days=day_index)
    if day_index == 0:
        return storage_bench._items(n, day)
    return storage_bench._items(n, day, edited=0.1, gone=0.02)


def run_days(url: str, n: int, days: int, batch: int, key: Ed25519PrivateKey | None) -> tuple[float, float]:
    """(ingest seconds, seal seconds) over `days` days; no sealing when `key` is None."""
    upgrade(url)
    engine = make_engine(url)
    ingest = sealing = 0.0
    try:
        for i in range(days):
            items = _day_items(n, i)
            _count, seconds = storage_bench._ingest_day(engine, items, D0 + dt.timedelta(days=i), batch)
            ingest += seconds
            if key is not None:
                t0 = time.perf_counter()
                with Session(engine) as s, s.begin():
                    seal(s, D0 + dt.timedelta(days=i), key)
                sealing += time.perf_counter() - t0
    finally:
        engine.dispose()
    return ingest, sealing


def write_cited_warc(url: str, data_dir: Path) -> int:
    """A real WARC file with one response record per record the events cite (payload = what the
    bench items hashed: URL + date)."""
    engine = make_engine(url)
    with Session(engine) as s:
        cited = s.execute(
            select(Event.evidence_file, Event.evidence_record, Listing.url, Event.evidence_sha256, Event.occurred_on)
            .join(Listing, Listing.id == Event.listing_id)
            .where(Event.evidence_record.is_not(None))
            .distinct()
        ).all()
    engine.dispose()
    files: dict[str, WARCWriter] = {}
    handles = []
    written = set()
    offsets = []
    for warc_file, record_id, uri, sha, on in cited:
        if record_id in written:
            continue
        if warc_file not in files:
            path = data_dir / warc_file
            path.parent.mkdir(parents=True, exist_ok=True)
            handles.append(path.open("wb"))
            files[warc_file] = WARCWriter(handles[-1], gzip=True)
        body = f"{uri}{on}".encode()
        assert hashlib.sha256(body).hexdigest() == sha, "bench items hash URL + date"
        writer = files[warc_file]
        record = writer.create_warc_record(
            uri,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/plain")], protocol="HTTP/1.1"),
            warc_headers_dict={"WARC-Record-ID": record_id},
        )
        start = writer.out.tell()
        writer.write_record(record)
        offsets.append(
            {"warc_file": warc_file, "record_id": record_id, "record_offset": start,
             "record_length": writer.out.tell() - start}
        )  # fmt: skip
        written.add(record_id)
    for handle in handles:
        handle.close()
    engine = make_engine(url)
    with Session(engine) as s, s.begin():  # where each record lies, as the crawl pipeline stores it
        executemany(s, insert(WarcRecord.__table__), offsets)
    engine.dispose()
    return len(written)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listings", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory(prefix="pwatch-bench-ledger-") as tmp:
        tmp = Path(tmp)
        runs = {}
        for name, k in (("without", None), ("with", key), ("without2", None), ("with2", key)):
            runs[name] = run_days(f"sqlite:///{tmp / name}.db", args.listings, args.days, args.batch, k)
            print(name, runs[name], flush=True)
        records = write_cited_warc(f"sqlite:///{tmp / 'with2'}.db", tmp)
        engine = make_engine(f"sqlite:///{tmp / 'with2'}.db")
        t0 = time.perf_counter()
        with Session(engine) as s:
            outcome = verify(s, tmp, key.public_key())
        verify_s = time.perf_counter() - t0
        engine.dispose()
    assert outcome.ok, outcome.problems[:3]
    without = (runs["without"][0] + runs["without2"][0]) / 2
    with_log = (sum(runs["with"]) + sum(runs["with2"])) / 2
    seal_s = (runs["with"][1] + runs["with2"][1]) / 2
    items = args.listings * args.days
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python -m bench.ledger --listings {args.listings} --days {args.days} --write` "
        f"({started}, Python {_platform.python_version()}, 2 shared cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end). SQLite; "
        "four fresh databases in one run, alternating without / with the ledger; "
        "with = ingest plus `seal` after each day.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| ingest without the ledger ({items:,} items, mean of 2) | {without:.1f} s ({items / without:,.0f} obs/s) |",
        f"| ingest with the ledger (sealing included, mean of 2) | {with_log:.1f} s ({items / with_log:,.0f} obs/s) |",
        f"| of which sealing ({args.days} heads) | {seal_s:.1f} s |",
        f"| slowdown with the ledger (means of the runs) | {100 * (with_log / without - 1):.1f} % |",
        f"| sealing / ingest within each run with the ledger (same database, same minutes) | "
        f"{100 * runs['with'][1] / runs['with'][0]:.1f} %, {100 * runs['with2'][1] / runs['with2'][0]:.1f} % |",
        "| each run: ingest s (+ sealing s) | "
        + ", ".join(f"{name}: {ing:.1f}" + (f" + {sl:.1f}" if sl else "") for name, (ing, sl) in runs.items())
        + " |",
        f"| verify: events recomputed | {outcome.events_checked:,} in {verify_s:.1f} s = "
        f"{outcome.events_checked / verify_s:,.0f} events/s |",
        f"| verify: cited WARC records re-read | {outcome.records:,} ({records:,} distinct), "
        f"{outcome.warc_bytes / 1e6:.1f} MB payload, "
        f"{outcome.warc_bytes / 1e6 / verify_s:.2f} MB/s over the whole verify |",
        "",
        NOTE
        + f" Target (ingest with the log within 10 % of without): {'met' if with_log <= 1.1 * without else 'not met'}"
        " in this run.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        storage_bench.SECTION = SECTION
        storage_bench.write_section(Path(__file__).resolve().parents[1] / "BENCHMARKS.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
