"""Benchmark: ingest a 100,000-listing day and reconcile it, on SQLite and PostgreSQL, beside a raw
SQLAlchemy Core insert of the same rows in the same run.

    .venv/bin/python -m bench.storage [--listings 100000] [--batch N] [--repeat 3] [--no-postgres] [--write]

Day 1 is all new listings (listing rows, snapshots, first_seen events, observations). Day 2 is
the steady state: the same listings again with 10% edited (new snapshot + changed event) and 2%
gone pages. Day 3 has 3% silently missing, which reconcile removes after K=2 healthy absences
(days 3 and 4). Throughput = observations (items) per second of wall clock, one transaction per
batch as the crawler pipeline commits (`--batch` defaults to the crawler's own `PWATCH_DB_BATCH`).
`--write` replaces this benchmark's section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import platform as _platform
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Column, Date, Integer, MetaData, String, Table, Text, event, insert, text
from sqlalchemy.orm import Session

from precursor_watch.contract import Evidence, GoneItem, ListingItem
from precursor_watch.crawlers.settings import PWATCH_DB_BATCH
from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run, refresh_statistics
from precursor_watch.storage.db import make_engine, upgrade
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.reconcile import reconcile_date

PLATFORMS = ("chemdir", "tradehub", "boardlist", "huaxue", "mercado")
D0 = dt.date(2026, 11, 1)
SECTION = "## Tracking database: ingest and reconcile (`bench/storage.py`)"
TARGET = 20_000  # observations/s on SQLite the tracking database must sustain


def _items(n: int, day: dt.date, *, edited: float = 0.0, gone: float = 0.0, missing: float = 0.0):
    per = n // len(PLATFORMS)
    out: dict[str, list] = {p: [] for p in PLATFORMS}
    for p in PLATFORMS:
        for i in range(per):
            key = f"{p[:2].upper()}{i}"
            url = f"http://{p}.test/item/{key}"
            h = int(hashlib.blake2b(f"{p}{i}".encode(), digest_size=4).hexdigest(), 16) / 2**32
            if h < missing:
                continue
            ev = Evidence(
                "warc/bench.warc.gz", f"<urn:{p}:{i}:{day}>", hashlib.sha256(f"{url}{day}".encode()).hexdigest()
            )
            if h < missing + gone:
                out[p].append(GoneItem(p, url, key, 404, "not_found", crawl_date=day, evidence=ev))
                continue
            version = 1 if h > 1 - edited else 0
            body = f"Listing {key} v{version}: 4-ANPP 99% purity, 1 kg foil bag. Contact below."
            out[p].append(
                ListingItem(
                    platform=p,
                    listing_key=key,
                    url=url,
                    title=f"Offer {key}",
                    text=body,
                    price="120.00",
                    currency="USD",
                    seller_key=f"{p[:2]}-a{i // 6}",
                    seller_name=f"Seller {i // 6}",
                    store_key=f"{p[:2]}-s{i // 24}",
                    contacts=[f"telegram:@fake_seller_{i // 6}"],
                    lang="en",
                    crawl_date=day,
                    evidence=ev,
                    content_sha256=hashlib.sha256(body.encode()).hexdigest(),
                )
            )
    return out


def _ingest_day(engine, items: dict[str, list], day: dt.date, batch: int) -> tuple[int, float]:
    count = sum(len(v) for v in items.values())
    t0 = time.perf_counter()
    for p, rows in items.items():
        with Session(engine) as s, s.begin():
            run = open_crawl_run(s, p, day)
        for i in range(0, len(rows), batch):
            with Session(engine) as s, s.begin():
                ingest_batch(s, run, rows[i : i + batch])
            with Session(engine) as s, s.begin():  # as the storage pipeline does after each batch
                refresh_statistics(s, only_stale=True)
        with Session(engine) as s, s.begin():
            close_crawl_run(s, run, {"pages": len(rows), "errors": {}})
    return count, time.perf_counter() - t0


def _sqlite_share(items: dict[str, list], day: dt.date, batch: int, tmp: Path) -> float:
    """Seconds SQLite itself needs for a day-1 ingest: the ingest runs once more on a fresh database
    while every statement it sends is recorded, then the same statements are replayed through bare
    `sqlite3` (same pragmas) on another fresh database. Ingest time minus this is Python's share."""
    recorded: list[tuple[str, object, bool]] = []
    url = f"sqlite:///{tmp / 'record.db'}"
    upgrade(url)
    engine = make_engine(url)
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, stmt, params, _ctx, many: recorded.append((stmt, params, many)),
    )
    event.listen(engine, "commit", lambda _c: recorded.append(("COMMIT", (), False)))
    _ingest_day(engine, items, day, batch)
    engine.dispose()
    replay = tmp / "replay.db"
    upgrade(f"sqlite:///{replay}")
    con = sqlite3.connect(replay, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        con.execute(f"PRAGMA {pragma}")
    t0 = time.perf_counter()
    for stmt, params, many in recorded:
        if many:
            con.executemany(stmt, params)
        else:
            con.execute(stmt, params).fetchall()
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed


def _half_batch_day1(n: int, batch: int) -> tuple[float, float]:
    """Day 1 at half the batch size and at the batch size, alternating (obs/s medians of 2 each):
    what the transaction size is worth."""
    rates: dict[int, list[float]] = {batch // 2: [], batch: []}
    items = _items(n, D0)
    for _ in range(2):
        for size in rates:
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{Path(tmp) / 'batch.db'}"
                upgrade(url)
                engine = make_engine(url)
                count, elapsed = _ingest_day(engine, items, D0, size)
                engine.dispose()
            rates[size].append(count / elapsed)
    return statistics.median(rates[batch // 2]), statistics.median(rates[batch])


def _reconcile(engine, day: dt.date) -> tuple[float, dict]:
    t0 = time.perf_counter()
    with Session(engine) as s, s.begin():
        summary = reconcile_date(s, day, absence_k=2, error_threshold=0.2)
    return time.perf_counter() - t0, summary


def _core_insert(engine, items: dict[str, list], batch: int | None) -> float:
    """The same listing rows through a bare Core INSERT into an unindexed scratch table, one
    transaction per `batch` rows, or all in one transaction (`None`: how the reference figure in
    BENCHMARKS.md, the 118,000 rows/s the target was set against, was measured)."""
    md = MetaData()
    table = Table(
        f"bench_raw_{uuid.uuid4().hex[:6]}",
        md,
        Column("id", Integer, primary_key=True),
        Column("platform", String(40)),
        Column("listing_key", String(200)),
        Column("url", Text),
        Column("title", Text),
        Column("content_sha256", String(64)),
        Column("seen_on", Date),
    )
    md.create_all(engine)
    rows = [
        {
            "platform": it.platform,
            "listing_key": it.listing_key,
            "url": it.url,
            "title": it.title,
            "content_sha256": it.content_sha256,
            "seen_on": it.crawl_date,
        }
        for v in items.values()
        for it in v
    ]
    batch = batch or len(rows)
    t0 = time.perf_counter()
    for i in range(0, len(rows), batch):
        with engine.begin() as conn:
            conn.execute(insert(table), rows[i : i + batch])
    elapsed = time.perf_counter() - t0
    md.drop_all(engine)
    return len(rows) / elapsed


def run_backend(name: str, url: str, n: int, batch: int) -> dict:
    upgrade(url)
    engine = make_engine(url)
    res: dict = {"backend": name}
    try:
        day1 = _items(n, D0)
        res["core_rows_per_s"] = _core_insert(engine, day1, batch)
        res["core_one_tx_rows_per_s"] = _core_insert(engine, day1, None)
        c, t = _ingest_day(engine, day1, D0, batch)
        res["day1"] = (c, t)
        res["reconcile1"] = _reconcile(engine, D0)[0]
        d2 = D0 + dt.timedelta(days=1)
        c, t = _ingest_day(engine, _items(n, d2, edited=0.10, gone=0.02), d2, batch)
        res["day2"] = (c, t)
        res["reconcile2"], s2 = _reconcile(engine, d2)
        res["removed2"] = s2.removed_explicit
        for k in (2, 3):  # silent absences on two healthy crawls
            d = D0 + dt.timedelta(days=k)
            _ingest_day(engine, _items(n, d, gone=0.02, missing=0.03), d, batch)
            res[f"reconcile{k + 1}"], s = _reconcile(engine, d)
        res["removed_silent"] = s.removed_silent
    finally:
        engine.dispose()
    return res


def _pg_url() -> tuple[str, str, object]:
    base = os.environ.get("PWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    schema = f"pw_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return f"{base}?options=-csearch_path%3D{schema}", schema, admin


def render(results: list[dict], args, started: str) -> str:
    load = os.getloadavg()[0]
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python -m bench.storage --listings {args.listings} --batch {args.batch} "
        f"--repeat {args.repeat}` "
        f"({started} UTC, Python {_platform.python_version()}, 2 shared cores, load average {load:.1f} at the end). "
        "Observations/s = items ingested per wall-clock second, one transaction per batch of "
        f'{args.batch}; "Core insert" = the same day-1 rows through a bare SQLAlchemy Core `INSERT` '
        "into an unindexed table in the same run (the ceiling), batched as the ingest is and, as "
        "the reference figure was measured, all in one transaction. Reconcile = one `reconcile_date` over "
        "all listings (removals, relisting search, closures).",
        "",
        "| backend | Core insert rows/s, batched | Core insert rows/s, one transaction "
        "| day 1 ingest (all new) obs/s | day 2 ingest (10% edited, 2% gone) obs/s "
        "| reconcile day 1 s | reconcile day 2 s | reconcile day 4 (silent removals) s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c1, t1 = r["day1"]
        c2, t2 = r["day2"]
        lines.append(
            f"| {r['backend']} | {r['core_rows_per_s']:,.0f} | {r['core_one_tx_rows_per_s']:,.0f} | "
            f"{c1 / t1:,.0f} ({c1:,} in {t1:.1f} s) | "
            f"{c2 / t2:,.0f} ({c2:,} in {t2:.1f} s) | {r['reconcile1']:.2f} | {r['reconcile2']:.2f} "
            f"({r['removed2']:,} removed) | {r['reconcile4']:.2f} ({r['removed_silent']:,} removed) |"
        )
    lines += [
        "",
        "Target: ingest ≥ 20,000 observations/s on SQLite (reference figure: Core insert ≈ 118,000 rows/s).",
        "",
    ]
    sqlite = next((r for r in results if r["backend"].startswith("SQLite")), None)
    if sqlite:
        (c1, t1), (c2, t2) = sqlite["day1"], sqlite["day2"]
        verdict = lambda rate: "meets the target" if rate >= TARGET else "below the target"  # noqa: E731
        runs = sqlite.get("runs") or [(c1 / t1, c2 / t2)]
        med1, med2 = (statistics.median(r[i] for r in runs) for i in (0, 1))
        span = lambda i: f"{min(r[i] for r in runs):,.0f}–{max(r[i] for r in runs):,.0f}"  # noqa: E731
        lines += [
            f"Over {len(runs)} SQLite runs the first day (every listing new) ingests a median {med1:,.0f} obs/s "
            f"({verdict(med1)}; runs {span(0)}) and the steady-state day {med2:,.0f} obs/s ({verdict(med2)}; runs "
            f"{span(1)}). The table shows the run with the median first day.",
            "",
            f"Because the machine is shared, compare ratios within a run: the target is {TARGET / 118_000:.1%} of the "
            f"Core insert rate it was set against (20,000 / 118,000, 100k rows in one transaction); in the run shown "
            f"that insert ran at {sqlite['core_one_tx_rows_per_s']:,.0f} rows/s, and day 1 reaches "
            f"{c1 / t1 / sqlite['core_one_tx_rows_per_s']:.1%} of it and day 2 "
            f"{c2 / t2 / sqlite['core_one_tx_rows_per_s']:.1%}. "
            f"Against the batched Core insert ({sqlite['core_rows_per_s']:,.0f} rows/s, "
            f"{args.batch:,}-row transactions like "
            f"the ingest's) day 1 reaches {c1 / t1 / sqlite['core_rows_per_s']:.1%} "
            f"and day 2 {c2 / t2 / sqlite['core_rows_per_s']:.1%}.",
            "",
            "A first day writes four rows per item (listing, snapshot, `first_seen` event, observation) and ten "
            "index entries; a revisit day writes about one (the observation). Where the first day's time goes, "
            "measured in the same run: the statements the ingest sent, recorded and replayed through bare "
            f"`sqlite3` on a fresh database, take {sqlite['sqlite_day1_sql_s']:.1f} s of the {t1:.1f} s "
            f"({sqlite['sqlite_day1_sql_s'] / t1:.0%}); the rest is Python: validation, row building and "
            "SQLAlchemy's per-statement overhead (about 20 statements per batch).",
            "",
            "What the ingest does to get there (each step measured with this benchmark): a batch goes to the "
            "database as one row per item in a per-connection staging table (`storage/staging.py`; the content "
            "columns only when a snapshot is due; filled by COPY on PostgreSQL), and listings, snapshots, "
            "observations and `first_seen` events are written from it by set-based `INSERT .. SELECT`, each "
            "`first_seen` linked to its observation and snapshot. Observations are plain inserts, updated in place "
            "only on a rerun (an `ON CONFLICT DO UPDATE` upsert cost twice as much with foreign keys on); other bulk "
            "rows skip SQLAlchemy's per-row parameter construction (`storage/bulk.py`); key lookups bind one JSON "
            "array (SQLite) or array (PostgreSQL) instead of an IN list; new SQLite databases use 16 KiB pages; the "
            "common item is validated by one expression of C-level checks. The crawler commits "
            f"{args.batch:,} items per transaction (`PWATCH_DB_BATCH`): measured in this run, alternating, a first "
            f"day ingests {sqlite['half_batch_day1'][0]:,.0f} obs/s at {args.batch // 2:,} items per transaction and "
            f"{sqlite['half_batch_day1'][1]:,.0f} at {args.batch:,}. On "
            "PostgreSQL the storage pipeline analyses a table once it has changed by more rows than its statistics "
            "say it holds (`storage.crawls.refresh_statistics`): with statistics from when the tables were empty, "
            "the key lookups of a first crawl became scans, each batch slower than the last.",
            "",
        ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = (
        pattern.sub(lambda _m: section + "\n", old)
        if pattern.search(old)
        else old.rstrip("\n") + "\n\n" + section + "\n"
    )
    path.write_text(new.lstrip("\n"), encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listings", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=PWATCH_DB_BATCH, help="items per transaction (default: the crawler's)")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="SQLite runs (the table shows the median day-1 run)")
    ap.add_argument("--write", action="store_true", help="replace this benchmark's section of BENCHMARKS.md")
    args = ap.parse_args(argv)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    results = []
    runs = []
    for _ in range(args.repeat):  # the machine is shared: several runs, the median one in the table
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(run_backend("SQLite (WAL)", f"sqlite:///{Path(tmp) / 'bench.db'}", args.listings, args.batch))
            print(runs[-1], file=sys.stderr)
    sqlite = sorted(runs, key=lambda r: r["day1"][0] / r["day1"][1])[len(runs) // 2]
    sqlite["runs"] = [(r["day1"][0] / r["day1"][1], r["day2"][0] / r["day2"][1]) for r in runs]
    with tempfile.TemporaryDirectory() as tmp:
        sqlite["sqlite_day1_sql_s"] = _sqlite_share(_items(args.listings, D0), D0, args.batch, Path(tmp))
    sqlite["half_batch_day1"] = _half_batch_day1(args.listings, args.batch)
    results.append(sqlite)
    if not args.no_postgres:
        url, schema, admin = _pg_url()
        try:
            results.append(run_backend("PostgreSQL 15", url, args.listings, args.batch))
            print(results[-1], file=sys.stderr)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    section = render(results, args, started)
    print(section)
    if args.write:
        write_section(Path(__file__).resolve().parents[1] / "BENCHMARKS.md", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
