"""Report generation speed on a synthetic tracked world (built through storage's API).

    .venv/bin/python -m bench.reports --listings 5000 --days 10
    .venv/bin/python -m bench.reports --listings 5000 --days 10 --baseline main --rounds 3

`--baseline REV` is an A/B run: the world is built once, then the reports are timed alternately
with the package as of git revision REV (exported to a temporary folder and laid out as
pyproject's `package-dir` says) and with the working tree, so both see the same data and the same
machine load.

Builds `--listings` listings over five platforms, flags ~40 %, confirms most flagged ones,
notices them through a loopback endpoint, removes ~70 % of the noticed ones over the following
days, then times `write_daily_report` for the last day and `write_audit_report` for the period.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from precursor_watch.contract import Evidence, ListingItem
from precursor_watch.enforcement.notices import send_notices
from precursor_watch.reports.audit import write_audit_report
from precursor_watch.reports.daily import write_daily_report
from precursor_watch.storage import events as ev
from precursor_watch.storage.crawls import close_crawl_run, open_crawl_run
from precursor_watch.storage.db import make_engine, upgrade
from precursor_watch.storage.detections import DetectionResult, pending_snapshots, record_detections
from precursor_watch.storage.ingest import ingest_batch
from precursor_watch.storage.models import Event, Listing
from precursor_watch.storage.reviews import record_review
from precursor_watch.storage.types import logical_ts

PLATFORMS = ("chemdir", "tradehub", "boardlist", "huaxue", "mercado")
START = dt.date(2026, 11, 1)


def _endpoint():
    tickets: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            ticket = tickets.setdefault(body["idempotency_key"], f"T-{len(tickets) + 1}")
            data = json.dumps({"ticket": ticket, "received_on": "x", "urls_accepted": len(body["urls"])}).encode()
            self.send_response(201)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _day_items(origin: str, p: str, alive: set[int], day: dt.date) -> list[ListingItem]:
    """One platform's listings seen on one day: every fifth pair offers 4-ANPP."""
    return [
        ListingItem(
            platform=p,
            listing_key=f"{p[:2].upper()}{i}",
            url=f"{origin}/{p}/{i}",
            title=f"lot {i} " + ("4-ANPP 99%" if i % 5 < 2 else "acetone"),
            text=("4-ANPP" if i % 5 < 2 else "acetone") + f" offer {i}, 1 kg, telegram @fake_seller_{i % 97}",
            seller_key=f"{p[:2]}-a{i // 6}",
            lang="en",
            crawl_date=day,
            evidence=Evidence("w.warc", f"<urn:{p}:{i}:{day}>", hashlib.sha256(f"{p}{i}{day}".encode()).hexdigest()),
        )
        for i in sorted(alive)
    ]


def _detections(s: Session, rng: random.Random) -> list[DetectionResult]:
    """A stand-in detector's results for the pending snapshots: a 4-ANPP mention is an offer."""
    results = []
    for snap in pending_snapshots(s, "bench-1"):
        hit = snap.text.find("4-ANPP")
        subs = (
            [
                {
                    "id": "21409-26-7",
                    "name": "4-ANPP",
                    "matched": "4-ANPP",
                    "field": "text",
                    "start": hit,
                    "end": hit + 6,
                }
            ]
            if hit >= 0
            else []
        )
        results.append(
            DetectionResult(
                snap.id,
                hit >= 0,
                rng.uniform(0.5, 1) if hit >= 0 else 0.1,
                subs,
                [{"message": "monitored substance", "matched": "4-ANPP"}] if hit >= 0 else [],
                "bench-1",
            )
        )
    return results


def _observe_removals(engine: Engine, rng: random.Random, nxt: dt.date, alive: dict[str, set[int]]) -> None:
    """Record some reported listings as removed on `nxt`, and drop some of them from `alive`."""
    with Session(engine) as s, s.begin():
        reported = s.execute(
            select(Listing.id, Listing.listing_key, Listing.platform_id).where(
                Listing.review == "reported", Listing.presence == "active"
            )
        ).all()
        events = []
        for lid, key, _ in reported:
            if rng.random() < 0.35:
                events.append(
                    ev.NewEvent(
                        "removal_observed",
                        lid,
                        nxt,
                        cause="not_found",
                        evidence_sha256=hashlib.sha256(key.encode()).hexdigest(),
                    )
                )
        ev.append(s, events)
    for p in PLATFORMS:
        gone = {int(k[2:]) for lid, k, _ in reported if k.startswith(p[:2].upper())}
        alive[p] -= {i for i in gone if rng.random() < 0.5}


def build(data: Path, listings: int, days: int, seed: int = 1) -> SimpleNamespace:
    rng = random.Random(seed)
    url = f"sqlite:///{data / 'pwatch.db'}"
    upgrade(url)
    settings = SimpleNamespace(
        data_path=data, db_url=url, notice_overdue_days=7, notifier_name="bench", notifier_email="bench@example.invalid"
    )
    engine = make_engine(url)
    server, origin = _endpoint()
    per = listings // len(PLATFORMS)
    dates = [START + dt.timedelta(days=i) for i in range(days)]
    alive = {p: set(range(per)) for p in PLATFORMS}
    for d_i, day in enumerate(dates):
        for p in PLATFORMS:
            items = _day_items(origin, p, alive[p], day)
            with Session(engine) as s, s.begin():
                run = open_crawl_run(s, p, day)
                ingest_batch(s, run, items)
                close_crawl_run(s, run, {"pages": len(items) + 1, "errors": {}})
                record_detections(s, _detections(s, rng), day=day)
        with Session(engine) as s, s.begin():
            flagged = s.scalars(select(Listing.id).where(Listing.review == "flagged")).all()
            for lid in flagged:
                if rng.random() < 0.9:
                    record_review(s, lid, "confirmed", "bench", None, logical_ts(day))
        send_notices(settings, day)
        if d_i + 1 < len(dates):  # removals seen on the next day
            _observe_removals(engine, rng, dates[d_i + 1], alive)
    server.shutdown()
    with Session(engine) as s:
        n_events = s.scalar(select(func.count()).select_from(Event))
    engine.dispose()
    settings.dates = dates
    settings.events = n_events
    return settings


def time_reports(data: Path, listings: int, days: int) -> dict[str, float]:
    """Time both reports over an already built world (`build`'s database in `data`)."""
    url = f"sqlite:///{data / 'pwatch.db'}"
    dates = [START + dt.timedelta(days=i) for i in range(days)]
    settings = SimpleNamespace(
        data_path=data, db_url=url, notice_overdue_days=7, notifier_name="bench", notifier_email="bench@example.invalid"
    )
    # CPU seconds as well as wall seconds: on a shared machine the CPU time varies far less.
    t0, c0 = time.perf_counter(), time.process_time()
    daily = write_daily_report(settings, dates[-1])
    t1, c1 = time.perf_counter(), time.process_time()
    audit = write_audit_report(settings, dates[0], dates[-1])
    t2, c2 = time.perf_counter(), time.process_time()
    groups = json.loads((audit.parent / "statistics.json").read_text())["groups"]
    return {
        "daily_report_s": round(t1 - t0, 2),
        "audit_report_s": round(t2 - t1, 2),
        "daily_report_cpu_s": round(c1 - c0, 2),
        "audit_report_cpu_s": round(c2 - c1, 2),
        "daily_html_kb": round(daily.stat().st_size / 1024),
        "drilldown_rows": sum(1 for _ in open(audit.parent / "drilldown.csv")) - 1,
        # equal digests in an A/B run: both revisions computed the same numbers and drill-down
        "numbers_sha256": hashlib.sha256(json.dumps(groups, sort_keys=True).encode()).hexdigest()[:16],
        "drilldown_sha256": hashlib.sha256((audit.parent / "drilldown.csv").read_bytes()).hexdigest()[:16],
    }


def _baseline_tree(rev: str, into: Path) -> Path:
    """`precursor_watch` as of git revision `rev`, importable from the returned folder."""
    root = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "archive", rev], cwd=root, check=True, capture_output=True).stdout
    source = into / "source"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    mapping = tomllib.loads((source / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    package = into / "path" / "precursor_watch"  # a copy of pwatch/ with its sibling folders linked in
    package.parent.mkdir()
    subprocess.run(["cp", "-r", str(source / mapping.pop("precursor_watch")), str(package)], check=True)
    for name, folder in mapping.items():
        (package / name.split(".")[-1]).symlink_to(source / folder, target_is_directory=True)
    return into / "path"


def _timed_in_child(data: Path, listings: int, days: int, pythonpath: str | None) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    code = (
        f"import json, pathlib; from bench.reports import time_reports; "
        f"print(json.dumps(time_reports(pathlib.Path({str(data)!r}), {listings}, {days})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]
    )
    if done.returncode != 0:
        raise SystemExit(f"report timing failed ({pythonpath or 'working tree'}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listings", type=int, default=5000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--baseline", metavar="REV", help="A/B: also time the reports of git revision REV")
    parser.add_argument("--rounds", type=int, default=1, help="with --baseline: alternating rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        settings = build(Path(tmp), args.listings, args.days)
        build_s = round(time.perf_counter() - t0, 1)
        head = {"listings": args.listings, "days": args.days, "events": settings.events, "build_s": build_s}
        if not args.baseline:
            print(json.dumps(head | time_reports(Path(tmp), args.listings, args.days)))
            return
        with tempfile.TemporaryDirectory() as base:
            path = str(_baseline_tree(args.baseline, Path(base)))
            for n in range(args.rounds):
                a = _timed_in_child(Path(tmp), args.listings, args.days, path)
                b = _timed_in_child(Path(tmp), args.listings, args.days, None)
                print(json.dumps(head | {"round": n + 1, "baseline": args.baseline, "A": a, "B (working tree)": b}))


if __name__ == "__main__":
    main()
