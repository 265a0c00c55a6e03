"""CPU seconds of `bench.storage`'s first day and per stage of its steady-state day 2, for A/B runs.

    .venv/bin/python -m bench.ingest_cpu [--listings 20000]
    .venv/bin/python -m bench.ingest_cpu --ab OLD_CHECKOUT . [MORE ...] [--rounds 8]

`--ab` runs this file in each checkout in turn (its own `.venv/bin/python`, its own package on
`PYTHONPATH`), round after round, and prints each checkout's median CPU seconds of day 1 and
day 2 and their ratio to the first checkout's.

For an older revision, run this file from that revision's checkout, so its own `bench.storage` and
package are imported: `cd OLD && PYTHONPATH=. .venv/bin/python NEW/bench/ingest_cpu.py`. Stages are
module functions wrapped by name (those a revision lacks are skipped), timed in thread CPU
seconds, which a shared machine disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import bench.storage as bs
from precursor_watch.storage import events, ingest
from precursor_watch.storage.db import make_engine, upgrade

STAGES = ("_validate", "_ingest_seen", "_ingest_gone", "_seen_batch", "_update_known_listings", "fill_stage")


def _timed(module: ModuleType, name: str, label: str, totals: dict[str, float]) -> None:
    fn = getattr(module, name, None)
    if fn is None:
        return

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[label] = totals.get(label, 0.0) + time.thread_time() - start

    setattr(module, name, wrapper)


def ab(checkouts: list[Path], rounds: int, listings: int) -> None:
    """Alternate the checkouts round by round; medians of day 1 and day 2 CPU seconds."""
    runs: dict[Path, list[tuple[float, float]]] = {c: [] for c in checkouts}
    for r in range(rounds):
        for checkout in checkouts:
            env = os.environ | {"PYTHONPATH": str(checkout)}
            out = subprocess.run(
                [str(checkout / ".venv/bin/python"), str(Path(__file__).resolve()), "--listings", str(listings)],
                cwd=checkout,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            days = dict(re.findall(r"(day [12])=([\d.]+)", out))
            if len(days) != 2:
                raise SystemExit(f"{checkout}: no day times in its output: {out[-500:]}")
            runs[checkout].append((float(days["day 1"]), float(days["day 2"])))
            print(f"round {r + 1} {checkout}: day 1 {days['day 1']} s, day 2 {days['day 2']} s", flush=True)
    base = checkouts[0]
    b1, b2 = (statistics.median(x[i] for x in runs[base]) for i in (0, 1))
    for checkout in checkouts:
        d1, d2 = (statistics.median(x[i] for x in runs[checkout]) for i in (0, 1))
        print(f"{checkout}: median day 1 {d1:.3f} s ({d1 / b1 - 1:+.1%}), day 2 {d2:.3f} s ({d2 / b2 - 1:+.1%})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listings", type=int, default=20_000)
    ap.add_argument("--ab", type=Path, nargs="+", metavar="CHECKOUT", help="A/B over these checkouts")
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args(argv)
    if args.ab:
        ab([c.resolve() for c in args.ab], args.rounds, args.listings)
        return
    totals: dict[str, float] = {}
    for name in STAGES:
        _timed(ingest, name, name, totals)
    _timed(events, "append", "events.append", totals)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'cpu.db'}"
        upgrade(url)
        engine = make_engine(url)
        day1_items = bs._items(args.listings, bs.D0)
        start = time.thread_time()
        bs._ingest_day(engine, day1_items, bs.D0, 1000)
        day1 = time.thread_time() - start
        bs._reconcile(engine, bs.D0)
        day2 = bs.D0 + dt.timedelta(days=1)
        items = bs._items(args.listings, day2, edited=0.10, gone=0.02)
        totals.clear()
        start = time.thread_time()
        bs._ingest_day(engine, items, day2, 1000)
        totals["day 2"] = time.thread_time() - start
        totals["day 1"] = day1
        engine.dispose()
    print(" ".join(f"{k}={v:.3f}" for k, v in totals.items()))


if __name__ == "__main__":
    main()
