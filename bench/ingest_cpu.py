"""CPU seconds per ingest stage of a steady-state day (day 2 of `bench.storage`), for A/B runs.

    .venv/bin/python -m bench.ingest_cpu [--listings 20000]

For an older revision, run this file from that revision's checkout, so its own `bench.storage` and
package are imported: `cd OLD && PYTHONPATH=. .venv/bin/python NEW/bench/ingest_cpu.py`. Stages are
module functions wrapped by name (those a revision lacks are skipped), timed in thread CPU
seconds, which a shared machine disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listings", type=int, default=20_000)
    args = ap.parse_args(argv)
    totals: dict[str, float] = {}
    for name in STAGES:
        _timed(ingest, name, name, totals)
    _timed(events, "append", "events.append", totals)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'cpu.db'}"
        upgrade(url)
        engine = make_engine(url)
        bs._ingest_day(engine, bs._items(args.listings, bs.D0), bs.D0, 1000)
        bs._reconcile(engine, bs.D0)
        day2 = bs.D0 + dt.timedelta(days=1)
        items = bs._items(args.listings, day2, edited=0.10, gone=0.02)
        totals.clear()
        start = time.thread_time()
        bs._ingest_day(engine, items, day2, 1000)
        totals["day 2"] = time.thread_time() - start
        engine.dispose()
    print(" ".join(f"{k}={v:.3f}" for k, v in totals.items()))


if __name__ == "__main__":
    main()
