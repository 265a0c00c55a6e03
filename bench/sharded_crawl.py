"""Benchmark: a 100,000-listing platform crawled by one process vs by 2 shards (`--shard I/2`).

Run: .venv/bin/python -m bench.sharded_crawl [--scale 500000] [--site chemdir] [--write]

In one run, against one fixture server (faults off, the last day of the world: every slot has
appeared):
1. one process: `pwatch crawl --site S --date D --no-db --out single.jsonl`;
2. two processes at once: the same with `--shard 1/2` and `--shard 2/2` (one data dir, as on a
   shared volume).
The items are compared (same set, minus fetch time and WARC file names; no duplicates) and the
throughput ratio is reported: pages/s of the sharded crawl (all shards' pages over the slowest
shard's spider open → close) over the single process's (target >= 1.7x on 2 cores). The machine
is shared, so CPU-seconds per process are reported too: single CPU-seconds over the busiest shard's
is the speed-up two free cores would give. Storage is left out (`--no-db`): it is measured in
"## Tracking database" and on a cluster it is PostgreSQL, not the shared SQLite file.
With --write the section "## Sharded crawl" of BENCHMARKS.md is replaced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Sharded crawl"
VOLATILE = ("fetched_at", "evidence")


def _run_at_once(commands: list[list[str]], env: dict[str, str], logs: Path) -> tuple[float, list[float]]:
    """Runs the commands in parallel; (wall seconds, CPU-seconds of each process)."""
    logs.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    procs = []
    for n, command in enumerate(commands):
        with open(logs / f"{n}.out", "wb") as out, open(logs / f"{n}.err", "wb") as err:
            procs.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=err))
    cpu = []
    for n, proc in enumerate(procs):
        # wait4: this child's own rusage (RUSAGE_CHILDREN would mix the parallel processes).
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu.append(usage.ru_utime + usage.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(
                f"{commands[n][3:7]} failed ({proc.returncode}):\n{(logs / f'{n}.err').read_text()[-3000:]}"
            )
    return time.monotonic() - t0, cpu


def _items(path: Path) -> Counter:
    with open(path, encoding="utf-8") as fh:
        return Counter(
            json.dumps({k: v for k, v in json.loads(line).items() if k not in VOLATILE}, sort_keys=True)
            for line in fh
            if line.strip()
        )


@dataclass
class Measured:
    """One single-process crawl and the same crawl in shards, started together, of one platform."""

    day: dt.date
    slots: int
    single: dict  # health.json of the single process
    shards: list[dict]  # health.json of each shard
    single_items: Counter
    union: Counter  # the shards' items together
    single_wall: float
    sharded_wall: float
    single_cpu: float
    shard_cpu: list[float]
    load: tuple[float, float]  # load average at start and end


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=500_000, help="world scale (platform size = scale // 5 slots)")
    parser.add_argument("--site", default="chemdir")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="write the result into BENCHMARKS.md")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sharded-"))
    try:
        m = measure(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    same, duplicates = m.union == m.single_items, sum(n - 1 for n in m.union.values() if n > 1)
    section = report(args, m, same, duplicates)
    print(section)
    if args.write:
        write_section(section)
    return 0 if same and not duplicates else 1


def measure(args, tmp: Path) -> Measured:
    sys.path.insert(0, str(ROOT))
    from precursor_watch.fixtures.server import serve_in_background
    from precursor_watch.fixtures.world import World, WorldConfig

    config = WorldConfig(
        seed=7, start=dt.date(2026, 11, 1), days=30, scale=args.scale, faults="none", port=0, state_dir=tmp / "world"
    )
    day = config.end
    env = dict(os.environ, PYTHONPATH=str(ROOT), PWATCH_LOG_LEVEL="WARNING")
    with serve_in_background(config, day) as server:
        world = World(server.config)
        slots = world.appeared_count(world.day(day))
        base = server.base_urls[args.site]

        def command(data_dir: Path, out: Path, *extra: str) -> list[str]:
            return [
                sys.executable,
                "-m",
                "precursor_watch",
                "crawl",
                "--site",
                args.site,
                "--date",
                day.isoformat(),
                "--base-url",
                base,
                "--data-dir",
                str(data_dir),
                "--no-db",
                "--out",
                str(out),
                *extra,
            ]

        load0 = os.getloadavg()[0]
        single_wall, (single_cpu,) = _run_at_once([command(tmp / "single", tmp / "single.jsonl")], env, tmp / "logs1")
        shard_outs = [tmp / f"shard-{i}.jsonl" for i in range(1, args.shards + 1)]
        sharded_wall, shard_cpu = _run_at_once(
            [command(tmp / "sharded", out, "--shard", f"{i}/{args.shards}") for i, out in enumerate(shard_outs, 1)],
            env,
            tmp / "logs2",
        )
        load1 = os.getloadavg()[0]

    jobs = f"jobs/{args.site}/{day.isoformat()}"
    single = json.loads((tmp / "single" / jobs / "health.json").read_text())
    shards = [
        json.loads((tmp / "sharded" / jobs / f"shard-{i}-of-{args.shards}" / "health.json").read_text())
        for i in range(1, args.shards + 1)
    ]
    union: Counter = Counter()
    for out in shard_outs:
        union.update(_items(out))
    return Measured(
        day,
        slots,
        single,
        shards,
        _items(tmp / "single.jsonl"),
        union,
        single_wall,
        sharded_wall,
        single_cpu,
        shard_cpu,
        (load0, load1),
    )


def report(args, m: Measured, same: bool, duplicates: int) -> str:
    """The BENCHMARKS.md section for one measurement."""
    single, shards = m.single, m.shards
    single_rate = single["responses"] / single["elapsed_seconds"]
    sharded_pages = sum(s["responses"] for s in shards)
    sharded_rate = sharded_pages / max(s["elapsed_seconds"] for s in shards)
    ratio = sharded_rate / single_rate
    cpu_ratio = (m.single_cpu / single["responses"] * sharded_pages) / max(m.shard_cpu)
    rows = [
        (f"listing slots on the platform ({args.site}, day {m.day})", f"{m.slots:,}"),
        (
            "items: single process / union of the shards (each shard)",
            f"{sum(m.single_items.values()):,} / {sum(m.union.values()):,} "
            f"({' + '.join(str(s['items']) for s in shards)})",
        ),
        ("union of the shards = single-process items; duplicates", f"**{'yes' if same else 'NO'}**; {duplicates}"),
        (
            "single process: pages / pages/s (spider open → close) / process wall",
            f"{single['responses']:,} / **{single_rate:,.0f}** / {m.single_wall:,.0f} s",
        ),
        (
            f"{args.shards} shards at once: pages / pages/s (slowest shard) / wall",
            f"{sharded_pages:,} / **{sharded_rate:,.0f}** / {m.sharded_wall:,.0f} s",
        ),
        (f"throughput ratio, {args.shards} shards / 1 process (target ≥ 1.7×)", f"**{ratio:.2f}×**"),
        (
            "CPU-seconds: single / each shard",
            f"{m.single_cpu:,.0f} s / {' + '.join(f'{c:,.0f} s' for c in m.shard_cpu)}",
        ),
        ("speed-up on free cores (single CPU-s per page × pages / busiest shard's CPU-s)", f"{cpu_ratio:.2f}×"),
        ("errors: single / shards", f"{single['error_count']} / {sum(s['error_count'] for s in shards)}"),
        ("load average at start / end (2 cores, shared)", f"{m.load[0]:.1f} / {m.load[1]:.1f}"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    command_line = (
        f".venv/bin/python -m bench.sharded_crawl --scale {args.scale} --site {args.site} "
        f"--shards {args.shards} --write"
    )
    return f"""{SECTION}

Command: `{command_line}` (measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, Python 3.11,
Scrapy 2.19; fixture server with one worker on the same 2 cores, faults off).

| measure | value |
|---|---|
{table}

One process is `pwatch crawl --no-db --out FILE` (discovery through every index page and the
sitemaps, page objects, WARC evidence, health stats, JSONL); the shards are the same command with
`--shard I/{args.shards}`, started together, sharing a data dir (crawlers/sharding.py: each owns whole
sitemap blocks of 1,000 slots and their index pages; robots.txt and the sitemap index are the only
pages every shard fetches). Items are compared without `fetched_at` and the WARC file name. Pages/s
are over Scrapy's own elapsed time; the process wall includes start-up. When the machine is busy
(several engineers share its 2 cores: see the load average) the wall-clock ratio measures the
share of the cores we got; the CPU-second row is the load-independent figure.
"""


def write_section(section: str) -> None:
    """Replace this benchmark's section of BENCHMARKS.md (or append it)."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.M | re.S)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
