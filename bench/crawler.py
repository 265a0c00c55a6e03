"""Benchmark: a full crawl of a 100,000-listing platform vs a bare Scrapy fetch of the same URLs.

Run: .venv/bin/python -m bench.crawler [--scale 500000] [--site chemdir] [--write]

In one run, against one fixture server (faults off):
1. the full crawl: `pwatch crawl` (discovery through index pages and sitemaps, page objects,
   WARC evidence, health stats, items into SQLite through `storage` in batched transactions);
2. the bare fetch: a minimal Scrapy spider, same concurrency, no extraction, no WARC, no storage,
   no robots.txt, fetching exactly the URLs the full crawl fetched (read from the server's access log).
Both run as their own processes. The score is the full crawl's pages/s over the bare fetch's
(target >= 70%). With --write the section "## Crawler" of BENCHMARKS.md is replaced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Crawler"
CONCURRENCY = 16  # crawlers.settings CONCURRENT_REQUESTS(_PER_DOMAIN)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    cpu0, t0 = _child_cpu(), time.monotonic()
    proc = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    wall, cpu = time.monotonic() - t0, _child_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, cpu, proc


def bare_fetch(url_file: Path, stats_file: Path) -> None:
    """The bare Scrapy fetch (runs in its own process: `python -m bench.crawler --bare ...`)."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    urls = url_file.read_text(encoding="utf-8").split()

    class Bare(scrapy.Spider):
        name = "bare"

        async def start(self):
            for url in urls:
                yield scrapy.Request(url, callback=self.parse, dont_filter=True)

        def parse(self, response):
            return None

    process = CrawlerProcess(
        {
            "CONCURRENT_REQUESTS": CONCURRENCY,
            "CONCURRENT_REQUESTS_PER_DOMAIN": CONCURRENCY,
            "HTTPERROR_ALLOW_ALL": True,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            "LOG_LEVEL": "INFO",
            "LOGSTATS_INTERVAL": 30.0,
        }
    )
    crawler = process.create_crawler(Bare)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats()
    stats_file.write_text(
        json.dumps(
            {"responses": stats.get("response_received_count", 0), "elapsed_seconds": stats.get("elapsed_time_seconds")}
        ),
        encoding="utf-8",
    )


@dataclass
class Measured:
    """One full crawl and one bare fetch of the same URLs, against the same server."""

    day: dt.date
    slots: int
    health: dict  # the full crawl's health.json
    bare: dict  # the bare fetch's responses and elapsed seconds
    full_cpu: float
    bare_cpu: float
    evidence_mb: float
    db_mb: float
    load: tuple[float, float]  # load average at start and end


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=500_000, help="world scale (platform size = scale // 5 slots)")
    parser.add_argument("--site", default="chemdir")
    parser.add_argument("--write", action="store_true", help="write the result into BENCHMARKS.md")
    parser.add_argument("--bare", help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_fetch(Path(args.bare), Path(args.stats))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-crawler-"))
    try:
        section = report(args, measure(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(section)
    if args.write:
        write_section(section)
    return 0


def measure(args, tmp: Path) -> Measured:
    sys.path.insert(0, str(ROOT))
    from precursor_watch.fixtures.server import serve_in_background
    from precursor_watch.fixtures.world import World, WorldConfig

    start = dt.date(2026, 11, 1)
    config = WorldConfig(seed=7, start=start, days=30, scale=args.scale, faults="none", port=0, state_dir=tmp / "world")
    day = config.end  # every slot has appeared by the last day
    env = dict(os.environ, PYTHONPATH=str(ROOT), PWATCH_LOG_LEVEL="WARNING")
    with serve_in_background(config, day) as server:
        world = World(server.config)
        slots = world.appeared_count(world.day(day))
        base = server.base_urls[args.site]
        host = base.split("//")[1].split(":")[0]
        load0 = os.getloadavg()[0]

        # 1. the full crawl
        data_dir = tmp / "full"
        log_start = server.access_log.stat().st_size if server.access_log.exists() else 0
        command = [
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
        ]
        _full_wall, full_cpu, _proc = _run(command, env)
        health = json.loads((data_dir / "jobs" / args.site / day.isoformat() / "health.json").read_text())
        with open(server.access_log, "rb") as fh:
            fh.seek(log_start)
            lines = [json.loads(line) for line in fh.read().decode("utf-8").splitlines() if line]
        urls = [base + r["path"] for r in lines if r["host"] == host]

        # 2. the bare fetch of the same URLs
        url_file, stats_file = tmp / "urls.txt", tmp / "bare.json"
        url_file.write_text("\n".join(urls) + "\n", encoding="utf-8")
        _bare_wall, bare_cpu, _proc = _run(
            [sys.executable, "-m", "bench.crawler", "--bare", str(url_file), "--stats", str(stats_file)], env
        )
        bare = json.loads(stats_file.read_text())
        load1 = os.getloadavg()[0]
    evidence_mb = sum(p.stat().st_size for p in (data_dir / "evidence").rglob("*.warc.gz")) / 1e6
    db_mb = (data_dir / "pwatch.db").stat().st_size / 1e6
    return Measured(day, slots, health, bare, full_cpu, bare_cpu, evidence_mb, db_mb, (load0, load1))


def report(args, m: Measured) -> str:
    """The BENCHMARKS.md section for one measurement."""
    health, bare = m.health, m.bare
    full_rate = health["responses"] / health["elapsed_seconds"]
    bare_rate = bare["responses"] / bare["elapsed_seconds"]
    ratio = full_rate / bare_rate
    items = health["items"]
    rows = [
        (f"listing slots on the platform (day {m.day})", f"{m.slots:,}"),
        ("full crawl: pages fetched / items (listings + gone)", f"{health['responses']:,} / {items:,}"),
        ("full crawl: pages/s (spider open → close)", f"**{full_rate:,.0f}**"),
        (
            "full crawl: crawler CPU-seconds / pages per CPU-second",
            f"{m.full_cpu:,.0f} s / {health['responses'] / m.full_cpu:,.0f}",
        ),
        (
            "full crawl: errors / WARC evidence / SQLite database",
            f"{health['error_count']} / {m.evidence_mb:,.0f} MB / {m.db_mb:,.0f} MB",
        ),
        ("bare Scrapy fetch of the same URLs: pages/s", f"**{bare_rate:,.0f}**"),
        (
            "bare fetch: CPU-seconds / pages per CPU-second",
            f"{m.bare_cpu:,.0f} s / {bare['responses'] / m.bare_cpu:,.0f}",
        ),
        ("full / bare (target ≥ 70%)", f"**{ratio:.0%}**"),
        (
            "full / bare per CPU-second (load-independent)",
            f"{(health['responses'] / m.full_cpu) / (bare['responses'] / m.bare_cpu):.0%}",
        ),
        ("load average at start / end (2 cores, shared)", f"{m.load[0]:.1f} / {m.load[1]:.1f}"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    command_line = f".venv/bin/python -m bench.crawler --scale {args.scale} --site {args.site} --write"
    return f"""{SECTION}

Command: `{command_line}` (measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, Python 3.11,
Scrapy 2.19; fixture server with one worker on the same 2 cores, faults off).

| measure | value |
|---|---|
{table}

The full crawl is `pwatch crawl` as the daily run calls it: discovery through every index page and
the sitemaps, page objects, WARC evidence (gzip, SHA-256), health stats, batched
ingestion into SQLite through `storage`. The bare fetch is a minimal Scrapy spider with the same
concurrency ({CONCURRENCY}) requesting exactly the URLs the full crawl fetched (from the server's
access log), with no extraction, WARC, storage or robots.txt; it runs second, in the same run,
against the same server. Pages/s are over Scrapy's own elapsed time (spider open to close).
"""


def write_section(section: str, title: str = SECTION) -> None:
    """Replace the section `title` of BENCHMARKS.md (or append it)."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
