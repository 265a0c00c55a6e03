"""Review console server time: queue and case pages over a large tracking database.

    .venv/bin/python -m bench.console --flags 10000 --events 100000 --write
    .venv/bin/python -m bench.console --flags 10000 --events 100000 --db-url postgresql+psycopg://... --write

Builds, through storage's API (SQLite in a temporary folder, or an empty PostgreSQL database or
schema given by `--db-url`), `--flags / 0.4` listings over five platforms (40 % flagged by a
stand-in detector), confirms 5 % of the flags and sends them in notices of 2 listings (some
answered, some overdue, some removed: see `_notices`), pads the event log with `changed` events up to
`--events`, then times requests through the ASGI app in-process (FastAPI's TestClient: routing,
session check, SQL, template rendering; no network): queue pages (first, deep, filtered, grouped
by seller), case pages of random flagged listings, the notices board and the statistics page
with a drill-down. `--write` replaces this database's table in BENCHMARKS.md's section.

`--stats-only` times only the statistics: the page (total, by platform, by account), two
drill-downs, and `pwatch stats` in-process (total and `--by platform`, table output to a discarded
stdout), with the process's CPU time beside the wall time; its table goes to its own part of the
section. `--data DIR` keeps the data dir (and the SQLite database in it) in DIR, and a database
(there or at `--db-url`) that already has events is reused, so timing again does not rebuild it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import io
import logging
import os
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from precursor_watch.contract import Evidence, ListingItem
from precursor_watch.storage import events as ev
from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.db import make_engine, upgrade
from precursor_watch.storage.detections import DetectionResult, pending_snapshots, record_detections
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.kinds import EventKind, RemovalCause
from precursor_watch.storage.models import Event, Listing, Platform
from precursor_watch.storage.notices import record_notice
from precursor_watch.storage.reviews import record_review
from precursor_watch.storage.types import logical_ts

PLATFORMS = ("chemdir", "tradehub", "boardlist", "huaxue", "mercado")
DAY = dt.date(2026, 11, 1)
SECTION = "## Review console (`bench/console.py`)"
PASSWORD = "bench-password-1"


def _items(platform: str, n: int) -> list[ListingItem]:
    out = []
    for i in range(n):
        hit = i % 5 < 2
        word = "4-ANPP 99%" if hit else "acetone"
        out.append(
            ListingItem(
                platform=platform,
                listing_key=f"{platform[:2].upper()}{i}",
                url=f"http://127.0.0.1:9/{platform}/{i}",
                title=f"lot {i} {word}",
                text=f"{word} offer {i}, 1 kg, telegram @fake_seller_{i % 97}",
                seller_key=f"{platform[:2]}-a{i // 6}",
                lang="en" if i % 3 else "es",
                crawl_date=DAY,
                evidence=Evidence(
                    "w.warc", f"<urn:{platform}:{i}>", hashlib.sha256(f"{platform}{i}".encode()).hexdigest()
                ),
            )
        )
    return out


def _detect(session: Session, rng: random.Random) -> None:
    results = []
    for snap in pending_snapshots(session, "bench-1"):
        at = snap.text.find("4-ANPP")
        subs = (
            [{"id": "21409-26-7", "name": "4-ANPP", "matched": "4-ANPP", "field": "text", "start": at, "end": at + 6}]
            if at >= 0
            else []
        )
        results.append(
            DetectionResult(
                snap.id,
                at >= 0,
                rng.uniform(0.5, 1) if at >= 0 else 0.1,
                subs,
                [{"message": "monitored substance", "matched": "4-ANPP"}] if at >= 0 else [],
                "bench-1",
            )
        )
    record_detections(session, results, day=DAY)


def _notices(session: Session, rng: random.Random) -> None:
    """5 % of the flags confirmed and sent in notices of 2 listings per platform, half on the first
    day and half a week later, two thirds answered with a ticket and receipt date; 8 days on, every
    listing of each fourth notice and a third of the others observed removed. As of that day the
    board holds notices in every state."""
    removed_on = DAY + dt.timedelta(days=8)
    gone: list[int] = []
    for platform_id, platform in session.execute(select(Platform.id, Platform.name)).all():
        flagged = session.scalars(
            select(Listing.id)
            .where(Listing.platform_id == platform_id, Listing.review == "flagged")
            .order_by(Listing.id)
        ).all()
        chosen = flagged[: len(flagged) // 20]
        for lid in chosen:
            record_review(session, lid, "confirmed", "bench", None, logical_ts(DAY))
        for n, start in enumerate(range(0, len(chosen), 2)):
            ids = chosen[start : start + 2]
            ticket = f"T-{platform}-{n}" if n % 3 else None
            answer = {"answer": {"ticket": ticket, "received_on": DAY.isoformat()}} if ticket else {}
            sent_on = DAY + dt.timedelta(days=7 * (n % 2))
            record_notice(
                session,
                platform=platform,
                listing_ids=ids,
                legal_basis="terms of service",
                channel="http",
                idempotency_key=f"bench-{platform}-{n}",
                sent_at=logical_ts(sent_on),
                ticket=ticket,
                response=answer,
            )
            gone += ids if n % 4 == 0 else [lid for lid in ids if rng.random() < 1 / 3]
    ev.append(
        session,
        [ev.NewEvent(EventKind.REMOVAL_OBSERVED, lid, removed_on, cause=RemovalCause.NOT_FOUND) for lid in gone],
    )


def build(data: Path, flags: int, events: int, url: str | None = None) -> str:
    """The tracking database (default SQLite in `data`) with `flags` flagged listings and `events`
    events; returns its URL."""
    rng = random.Random(1)
    url = url or f"sqlite:///{data / 'pwatch.db'}"
    upgrade(url)
    engine = make_engine(url)
    per = -(-flags * 5 // 2 // len(PLATFORMS))
    for platform in PLATFORMS:
        with Session(engine) as s, s.begin():
            run = open_crawl_run(s, platform, DAY)
            ingest_batch(s, run, _items(platform, per))
            close_crawl_run(s, run, {"pages": per + 1, "errors": {}})
            _detect(s, rng)
    with Session(engine) as s, s.begin():
        _notices(s, rng)
    with Session(engine) as s, s.begin():
        have = s.scalar(select(func.count()).select_from(Event))
        ids = s.scalars(select(Listing.id)).all()
        padding = [ev.NewEvent("changed", rng.choice(ids), DAY) for _ in range(max(0, events - have))]
        for start in range(0, len(padding), 10_000):
            ev.append(s, padding[start : start + 10_000])
    engine.dispose()
    return url


def _timed(client, path: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        answer = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return out


def _client(data: Path, url: str | None):
    """A logged-in test client of the console over the database, and the flagged listings' ids."""
    from fastapi.testclient import TestClient

    from precursor_watch.console.passwords import hash_password
    from precursor_watch.console.server import build as build_app
    from precursor_watch.settings import load_settings
    from precursor_watch.storage.users import add_user, find_user

    settings = load_settings(data_dir=str(data), environ={"PWATCH_DATABASE_URL": url} if url else {})
    engine = make_engine(settings.db_url)
    with Session(engine) as s, s.begin():
        if find_user(s, "bench") is None:  # a reused database has its user already
            add_user(s, "bench", "analyst", hash_password(PASSWORD), dt.datetime.now(dt.UTC))
        flagged = s.scalars(select(Listing.id).where(Listing.review == "flagged")).all()
    engine.dispose()
    client = TestClient(build_app(settings), base_url="http://127.0.0.1:8471", follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf_token": token, "name": "bench", "password": PASSWORD}).status_code == 303
    return client, flagged


def measure(data: Path, runs: int, url: str | None = None) -> dict[str, list[float]]:
    client, flagged = _client(data, url)
    rng = random.Random(2)
    return {
        "queue, page 1": _timed(client, "/queue", runs),
        "queue, page 100 (offset 4,950)": _timed(client, "/queue?page=100", runs),
        "queue, platform + score + language filter": _timed(
            client, "/queue?platform=huaxue&min_score=0.8&lang=es", runs
        ),
        "queue by seller, page 1": _timed(client, "/queue?group=seller", runs),
        "case page (random flagged listing)": [
            _timed(client, f"/case/{rng.choice(flagged)}", 1)[0] for _ in range(runs)
        ],
        "notices board": _timed(client, "/notices", runs),
        "notices board, one platform's overdue": _timed(client, "/notices?platform=huaxue&state=overdue", runs),
        "statistics, whole period, total": _timed(client, "/stats", max(3, runs // 4)),
        "statistics, grouped by platform": _timed(client, "/stats?by=platform", max(3, runs // 4)),
        "statistics drill-down (flagged, total)": _timed(client, "/stats/explain?metric=flagged", max(3, runs // 4)),
    }


def _pwatch(args: list[str]) -> None:
    """`pwatch ARGS` in-process (the command, not the interpreter's start), output discarded; the
    root logging it configures is put back, so the requests timed next log nothing."""
    from precursor_watch.cli import main as pwatch

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert pwatch(args) == 0, args
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _clocked(work, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each run of `work`. CPU is this process's (the in-process
    server's thread included, a PostgreSQL server's work not), so it moves little with the load
    that other jobs put on the machine."""
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        work()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return wall, cpu


def measure_stats(
    data: Path, runs: int, url: str | None = None
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(wall ms, CPU ms) per statistics page, drill-down and `pwatch stats` run."""
    client, _flagged = _client(data, url)
    env = {"PWATCH_DATABASE_URL": url} if url else {}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)

    def page(path: str):
        return lambda: _timed(client, path, 1)

    stats = ["stats", "--data-dir", str(data)]
    work = {
        "statistics page, total": page("/stats"),
        "statistics page, by platform": page("/stats?by=platform"),
        "statistics page, by account": page("/stats?by=account"),
        "drill-down (flagged, total)": page("/stats/explain?metric=flagged"),
        "drill-down (removal_rate, one platform)": page("/stats/explain?metric=removal_rate&by=platform&group=chemdir"),
        "`pwatch stats`": lambda: _pwatch(stats),
        "`pwatch stats --by platform`": lambda: _pwatch([*stats, "--by", "platform"]),
    }
    try:
        page("/stats")()  # warm-up, untimed: first connection, templates, imports
        _pwatch(stats)
        clocked = {name: _clocked(w, runs) for name, w in work.items()}
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {n: wall for n, (wall, _cpu) in clocked.items()}, {n: cpu for n, (_wall, cpu) in clocked.items()}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def render(
    results: dict[str, list[float]],
    args,
    counts: tuple[int, int],
    started: str,
    database: str,
    loads: tuple,
    cpu: dict[str, list[float]] | None = None,
) -> str:
    url = " --db-url postgresql+psycopg://127.0.0.1:5432/test?options=-csearch_path%3D<schema>" if args.db_url else ""
    load = f"load average {loads[0]:.1f} at the start, {loads[1]:.1f} at the end"
    if args.stats_only:
        head = f"#### Statistics, {database}"
        what = (
            f"{args.runs} requests or commands each, in-process (pages through the ASGI app with session "
            "check and template rendering; `pwatch stats` through the CLI's `main`, its interpreter start aside)"
        )
        target = "Target: well under 2 s."
    else:
        head = f"### {database}"
        what = (
            f"{args.runs} requests each through the ASGI app in-process (statistics: a quarter as many), session "
            "check and template rendering included"
        )
        target = "Target for queue and case: p95 ≤ 200 ms."
    lines = [
        head,
        "",
        f"Command: `.venv/bin/python -m bench.console --flags {args.flags} --events {args.events} "
        f"--runs {args.runs}{url}{' --stats-only' if args.stats_only else ''}` ({database}, {counts[0]:,} flagged "
        f"listings, {counts[1]:,} events; {what}; {started} UTC, 2 cores shared with other engineers' jobs, "
        f"{load}). {target}",
        "",
        "| page | p50 ms | p95 ms |" + (" CPU p50 ms |" if cpu else ""),
        "|---|---|---|" + ("---|" if cpu else ""),
    ]
    for name, values in results.items():
        extra = f" {statistics.median(cpu[name]):.0f} |" if cpu else ""
        lines.append(f"| {name} | {statistics.median(values):.0f} | {p95(values):.0f} |{extra}")
    return "\n".join(lines) + "\n"


def write_section(path: Path, part: str) -> None:
    """Replace this database's part (`### SQLite` / `### PostgreSQL`) of the section, or add it."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if SECTION not in old:
        old = old.rstrip("\n") + "\n\n" + SECTION + "\n\n"
    head = part.split("\n", 1)[0]
    pattern = re.compile(rf"^{re.escape(head)}\n.*?(?=^##+ |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda _m: part + "\n", old)
    else:
        start = old.index(SECTION) + len(SECTION)
        nxt = re.search(r"^## ", old[start:], re.M)
        cut = start + nxt.start() if nxt else len(old)
        new = old[:cut].rstrip("\n") + "\n\n" + part + "\n" + old[cut:]
    path.write_text(new, encoding="utf-8")


def _counts(url: str) -> tuple[int, int]:
    """Flagged listings and events in the database (0, 0 when it has no tables yet)."""
    from sqlalchemy import inspect

    engine = make_engine(url)
    try:
        with Session(engine) as s:
            if not inspect(s.connection()).has_table("events"):
                return 0, 0
            return (
                s.scalar(select(func.count()).select_from(Listing).where(Listing.review == "flagged")) or 0,
                s.scalar(select(func.count()).select_from(Event)) or 0,
            )
    finally:
        engine.dispose()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flags", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--db-url", help="an empty PostgreSQL database or schema (default: SQLite in a temporary folder)")
    ap.add_argument("--stats-only", action="store_true", help="time only the statistics pages and pwatch stats")
    ap.add_argument(
        "--data", type=Path, help="keep the data dir (SQLite database) here; a database that has events is reused"
    )
    ap.add_argument("--write", action="store_true", help="replace this database's table in BENCHMARKS.md")
    args = ap.parse_args(argv)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    with contextlib.ExitStack() as stack:
        data = args.data or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        data.mkdir(parents=True, exist_ok=True)
        url = args.db_url or f"sqlite:///{data / 'pwatch.db'}"
        if _counts(url)[1]:
            print(f"reusing the database at {data if not args.db_url else 'the --db-url'}", flush=True)
        else:
            t0 = time.perf_counter()
            build(data, args.flags, args.events, args.db_url)
            print(f"built in {time.perf_counter() - t0:.0f} s", flush=True)
        counts = _counts(url)
        load_at_start = os.getloadavg()[0]
        cpu = None
        if args.stats_only:
            results, cpu = measure_stats(data, args.runs, args.db_url)
        else:
            results = measure(data, args.runs, args.db_url)
    loads = (load_at_start, os.getloadavg()[0])
    part = render(results, args, counts, started, "PostgreSQL" if args.db_url else "SQLite", loads, cpu)
    print(part)
    if args.write:
        write_section(Path(__file__).resolve().parents[1] / "BENCHMARKS.md", part)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
