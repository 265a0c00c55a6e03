"""Benchmark: the tamper-evident ledger. (1) The daily ingest of N listings over several days
without the ledger and with it (sealing after each day), in the same run, alternating. (2)
`pwatch audit verify`'s work (ledger.verify.verify) over the resulting events, with a real WARC
file holding every cited record: events/s and MB/s of WARC payload read.

    .venv/bin/python -m bench.ledger [--listings 20000] [--days 3] [--rounds 3] [--write]

Ingest uses bench/storage.py's items (day 2 on: 10% edited, 2% gone) and its one-transaction-per-
batch loop. Wall-clock seconds and CPU seconds of this process (`time.process_time`, which a
shared machine disturbs less) are both reported. `--write` replaces this benchmark's section of
BENCHMARKS.md.

    .venv/bin/python -m bench.ledger --baseline REV [--rounds 3] [--write]

instead compares sealing by CPU time: per round, on fresh databases in rotating order, the ingest
without the ledger, with this tree's `seal` and with the `seal` of git revision REV (its
`pwatch/ledger/log.py` and `encoding.py`, loaded with `git show` over this tree's other modules); no verify. It has
a section of its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import platform as _platform
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
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
BASELINE_SECTION = "## Tamper-evident ledger: sealing CPU before and after (`bench/ledger.py --baseline`)"
ROOT = Path(__file__).resolve().parents[1]
D0 = dt.date(2026, 11, 1)
NOTE = (
    "Reading: sealing reads the unlogged events in one query through the driver's own cursor (no result-row "
    "objects), builds each leaf's canonical text directly (no per-row ORM or JSON-type processing), hashes it, "
    "extends the latest head's frontier (compact range) and inserts the leaves in batches through a driver "
    "cursor, with Python's cycle collector paused for that loop; no old leaf is read. What is left is per-event "
    "Python and the leaf insert (its canonical encoding is kept to name changed fields: version 2, a JSON "
    "array without key names, 223 bytes for a first_seen event where version 1 took 505), paid once per new "
    "event. The verify row is over this run's events with every record read by offset; the rate at "
    "1,000,000 events is in the next section."
)
BASELINE_NOTE = (
    "Reading: the ledger's migrations add tables only (no trigger, no column or index on a table ingest "
    "writes), so the ingest columns should match; the difference is sealing. Compared with d7a468e (leaf "
    "encoding version 1, a JSON object with its key names), this tree writes version 2, the same values as a "
    "JSON array (223 instead of 505 bytes for a first_seen leaf): fewer bytes to build, insert, commit and "
    "checkpoint per event. Earlier steps (8342675 to d7a468e): rows read and leaves inserted through the "
    "driver's cursor instead of result-row objects, and the cycle collector paused while leaves are built."
)


def _day_items(n: int, day_index: int) -> dict:
    day = D0 + dt.timedelta(days=day_index)
    if day_index == 0:
        return storage_bench._items(n, day)
    return storage_bench._items(n, day, edited=0.1, gone=0.02)


@dataclass
class Timing:
    """One run over all days: wall-clock and CPU seconds (this process) of ingest and of sealing."""

    ingest: float = 0.0
    sealing: float = 0.0
    ingest_cpu: float = 0.0
    sealing_cpu: float = 0.0
    # per day: sealing CPU / ingest CPU (day 1 writes a first_seen event per listing, later days
    # only the changes, as a daily run does)
    day_shares: list[float] = field(default_factory=list)


def run_days(url: str, n: int, days: int, batch: int, key: Ed25519PrivateKey | None, sealer: Callable = seal) -> Timing:
    """Ingest (and, when `key` is given, seal with `sealer`) `days` days."""
    upgrade(url)
    engine = make_engine(url)
    out = Timing()
    try:
        for i in range(days):
            items = _day_items(n, i)
            cpu = time.process_time()
            _count, seconds = storage_bench._ingest_day(engine, items, D0 + dt.timedelta(days=i), batch)
            ingest_cpu = time.process_time() - cpu
            out.ingest_cpu += ingest_cpu
            out.ingest += seconds
            if key is not None:
                t0, cpu = time.perf_counter(), time.process_time()
                with Session(engine) as s, s.begin():
                    sealer(s, D0 + dt.timedelta(days=i), key)
                out.sealing += time.perf_counter() - t0
                sealing_cpu = time.process_time() - cpu
                out.sealing_cpu += sealing_cpu
                out.day_shares.append(sealing_cpu / ingest_cpu)
    finally:
        engine.dispose()
    return out


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


def _median(values) -> float:
    return statistics.median(values)


def render(args, started: str, runs: dict[str, list[Timing]], outcome, verify_s: float, records: int) -> str:
    n = args.rounds
    without = _median(r.ingest for r in runs["without"])
    with_log = _median(r.ingest + r.sealing for r in runs["with"])
    seal_s = _median(r.sealing for r in runs["with"])
    cpu_without = _median(r.ingest_cpu for r in runs["without"])
    cpu_with = _median(r.ingest_cpu + r.sealing_cpu for r in runs["with"])
    shares = [r.sealing_cpu / r.ingest_cpu for r in runs["with"]]
    items = args.listings * args.days
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python -m bench.ledger --listings {args.listings} --days {args.days} --rounds {n} "
        f"--write` ({started}, Python {_platform.python_version()}, 2 shared cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end). SQLite; "
        f"{n} rounds of a run without and a run with the ledger, each on a fresh database, the order alternating "
        "per round; with = ingest plus `seal` after each day. Medians over the rounds.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| ingest without the ledger ({items:,} items) | {without:.2f} s ({items / without:,.0f} obs/s) |",
        f"| ingest with the ledger (sealing included) | {with_log:.2f} s ({items / with_log:,.0f} obs/s) |",
        f"| of which sealing ({args.days} heads) | {seal_s:.2f} s |",
        f"| slowdown with the ledger, wall clock (medians) | {100 * (with_log / without - 1):.1f} % |",
        f"| CPU seconds (this process): ingest without / with, sealing included (medians) | "
        f"{cpu_without:.2f} / {cpu_with:.2f} ({100 * (cpu_with / cpu_without - 1):+.1f} %) |",
        "| CPU seconds of sealing / of the ingest it follows, each run with the ledger (same database, same "
        "minutes) | " + ", ".join(f"{100 * x:.1f} %" for x in shares) + f" (median {100 * _median(shares):.1f} %) |",
        "| the same per day, median over the runs (day 1 logs a first_seen event per listing, later days "
        "the changes) | "
        + ", ".join(
            f"day {i + 1}: {100 * _median(r.day_shares[i] for r in runs['with']):.1f} %" for i in range(args.days)
        )
        + " |",
        "| each run: ingest s (+ sealing s) | "
        + ", ".join(
            f"{name} {i + 1}: {r.ingest:.1f}" + (f" + {r.sealing:.2f}" if r.sealing else "")
            for name, timings in runs.items()
            for i, r in enumerate(timings)
        )
        + " |",
        f"| verify: events recomputed | {outcome.events_checked:,} in {verify_s:.1f} s = "
        f"{outcome.events_checked / verify_s:,.0f} events/s |",
        f"| verify: cited WARC records re-read | {outcome.records:,} ({records:,} distinct), "
        f"{outcome.warc_bytes / 1e6:.1f} MB payload, "
        f"{outcome.warc_bytes / 1e6 / verify_s:.2f} MB/s over the whole verify |",
        "",
        NOTE + " " + _verdict(runs, with_log / without - 1, cpu_with / cpu_without - 1),
        "",
    ]
    return "\n".join(lines)


def _verdict(runs: dict[str, list[Timing]], slowdown: float, cpu_slowdown: float) -> str:
    """Met only when the three estimates of the cost are within 10 %: the wall-clock medians and the
    CPU medians of runs with and without (which carry the ingest's own run-to-run noise, several %
    here), and sealing's CPU share of the ingest it follows (same database, same minutes: the
    ingest code is the same with and without the log)."""
    share = _median(r.sealing_cpu / r.ingest_cpu for r in runs["with"])
    met = max(slowdown, cpu_slowdown, share) <= 0.10
    days = len(runs["with"][0].day_shares)
    per_day = [_median(r.day_shares[i] for r in runs["with"]) for i in range(days)]
    steady = (
        f" Day by day, the first (a first_seen event per listing) costs {100 * per_day[0]:.1f} %"
        f" and the later days {100 * min(per_day[1:]):.1f}-{100 * max(per_day[1:]):.1f} %."
        if days > 1
        else ""
    )
    return (
        f"Target (ingest with the log within 10 % of without): {'met' if met else 'not met'} in this run: "
        f"{100 * slowdown:.1f} % by wall clock, {100 * cpu_slowdown:.1f} % by CPU seconds, "
        f"{100 * share:.1f} % by sealing's CPU share of ingest." + steady
    )


def _warm_up(tmp: Path, args, key: Ed25519PrivateKey) -> None:
    """One small untimed run with the ledger first: the first run of a process pays for imports and
    SQLAlchemy's statement compilation, which would be charged to whichever variant ran first."""
    run_days(f"sqlite:///{tmp / 'warm-up'}.db", min(args.listings, 2000), 2, args.batch, key)


def measure(args, started: str) -> str:
    """`args.rounds` rounds of a run without and a run with the ledger, fresh databases, the order
    alternating per round (a shared machine's load drifts; medians and alternation even it out)."""
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory(prefix="pwatch-bench-ledger-") as tmp:
        tmp = Path(tmp)
        runs: dict[str, list[Timing]] = {"without": [], "with": []}
        _warm_up(tmp, args, key)
        for r in range(args.rounds):
            for name in ("without", "with") if r % 2 == 0 else ("with", "without"):
                url = f"sqlite:///{tmp / f'{name}-{r}'}.db"
                runs[name].append(run_days(url, args.listings, args.days, args.batch, key if name == "with" else None))
                print(name, runs[name][-1], flush=True)
        last = f"sqlite:///{tmp / f'with-{args.rounds - 1}'}.db"
        records = write_cited_warc(last, tmp)
        engine = make_engine(last)
        t0 = time.perf_counter()
        with Session(engine) as s:
            outcome = verify(s, tmp, key.public_key())
        verify_s = time.perf_counter() - t0
        engine.dispose()
    assert outcome.ok, outcome.problems[:3]
    return render(args, started, runs, outcome, verify_s, records)


def _module_at(rev: str, path: str, name: str) -> types.ModuleType:
    command = ["git", "show", f"{rev}:{path}"]
    source = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    module = types.ModuleType(f"{name}_at_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module


def baseline_seal(rev: str) -> Callable:
    """`seal` of git revision `rev` with that revision's leaf encoding, over this tree's other modules."""
    encoding = _module_at(rev, "pwatch/ledger/encoding.py", "encoding")
    current = sys.modules["precursor_watch.ledger.encoding"]
    sys.modules["precursor_watch.ledger.encoding"] = encoding  # what the revision's log.py imports
    try:
        return _module_at(rev, "pwatch/ledger/log.py", "log").seal
    finally:
        sys.modules["precursor_watch.ledger.encoding"] = current


def compare(args, started: str) -> str:
    """Without the ledger, with this tree's `seal`, with `--baseline`'s: CPU seconds, rotating order."""
    key = Ed25519PrivateKey.generate()
    variants = {"without": None, "this tree": seal, args.baseline: baseline_seal(args.baseline)}
    runs: dict[str, list[Timing]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="pwatch-bench-ledger-") as tmp:
        _warm_up(Path(tmp), args, key)
        for r in range(args.rounds):
            names = list(variants)[r % 3 :] + list(variants)[: r % 3]
            for name in names:
                url = f"sqlite:///{Path(tmp) / f'{r}-{len(runs[name])}-{names.index(name)}'}.db"
                sealer = variants[name]
                runs[name].append(run_days(url, args.listings, args.days, args.batch, sealer and key, sealer or seal))
                print(name, runs[name][-1], flush=True)
    base = statistics.median(t.ingest_cpu for t in runs["without"])
    lines = [
        BASELINE_SECTION,
        "",
        f"Command: `.venv/bin/python -m bench.ledger --listings {args.listings} --days {args.days} "
        f"--baseline {args.baseline} --rounds {args.rounds} --write` ({started}, 2 shared cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end). SQLite, {args.listings * args.days:,} items; per round three fresh "
        "databases in rotating order: ingest without the ledger, with this tree's `seal` after each day, with "
        f"`{args.baseline}`'s (its `pwatch/ledger/log.py` and `encoding.py` over this tree's other modules). "
        "CPU seconds of this process (`time.process_time`).",
        "",
        "| run | ingest CPU s, median | sealing CPU s, median | sealing / ingest, each run | "
        "(ingest + sealing) / median ingest without |",
        "|---|---|---|---|---|",
    ]
    for name, timings in runs.items():
        total = statistics.median(t.ingest_cpu + t.sealing_cpu for t in timings)
        share = ", ".join(f"{100 * t.sealing_cpu / t.ingest_cpu:.1f} %" for t in timings) if variants[name] else "-"
        lines.append(
            f"| {name} | {statistics.median(t.ingest_cpu for t in timings):.2f} | "
            f"{statistics.median(t.sealing_cpu for t in timings):.3f} | {share} | {100 * (total / base - 1):+.1f} % |"
        )
    return "\n".join([*lines, "", BASELINE_NOTE, ""])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listings", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--baseline", metavar="REV", help="compare sealing CPU with git revision REV's seal instead")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the runs compared (without/with, or the three)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = compare(args, started) if args.baseline else measure(args, started)
    print(text)
    if args.write:
        storage_bench.SECTION = BASELINE_SECTION if args.baseline else SECTION
        storage_bench.write_section(ROOT / "BENCHMARKS.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
