"""Benchmark: a file-driven platform against the hand-written page object on the same pages.

Run: .venv/bin/python -m bench.platform_files [--scale 50000] [--rounds 3] [--write]

In one run, against one fixture server (faults off), chemdir is crawled alternately (A/B, A/B, ...)
with its platform file (`crawlers/platforms/chemdir.toml`, the `declared` page objects) and with a
copy of that file naming the hand-written page object (`crawlers/pages/chemdir.py`), each crawl a
`pwatch crawl --no-db` of its own with a fresh data dir: discovery, extraction, WARC evidence and
health, the whole crawl. The score is the file-driven crawl's pages/s over the hand-written one's
(target: within 10%). Also, in the same process, both page objects parse the same listing pages
(bytes rendered by the fixture world, no network), alternately: the extraction cost alone.
With --write the section of BENCHMARKS.md is replaced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Platform files: file-driven vs hand-written page object (`bench/platform_files.py`)"
SITE = "chemdir"
HAND_WRITTEN = "precursor_watch.crawlers.pages.chemdir"


def crawl(base: str, day: dt.date, data_dir: Path, files_dir: Path | None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PWATCH_LOG_LEVEL="WARNING")
    if files_dir is not None:
        env["PWATCH_PLATFORM_FILES_DIR"] = str(files_dir)
    command = [sys.executable, "-m", "precursor_watch", "crawl", "--site", SITE, "--date", day.isoformat()]
    command += ["--base-url", base, "--data-dir", str(data_dir), "--no-db"]
    proc = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"crawl failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads((data_dir / "jobs" / SITE / day.isoformat() / "health.json").read_text(encoding="utf-8"))


def hand_written_files(tmp: Path) -> Path:
    """A platform-files dir whose chemdir file names the hand-written page object."""
    from precursor_watch.crawlers.platform_file import PACKAGED_DIR

    folder = tmp / "hand-written"
    folder.mkdir()
    text = (PACKAGED_DIR / f"{SITE}.toml").read_text(encoding="utf-8")
    text = text.replace(f'name = "{SITE}"', f'name = "{SITE}"\npage_object = "{HAND_WRITTEN}"', 1)
    (folder / f"{SITE}.toml").write_text(text, encoding="utf-8")
    return folder


def parse_rates(world, day: dt.date, limit: int, rounds: int) -> tuple[float, float, int]:
    """Listing pages parsed per second: (file-driven, hand-written), same pages, alternating."""
    import importlib
    from urllib.parse import urlsplit

    from precursor_watch.crawlers.pages import adapter_for
    from precursor_watch.crawlers.pages.base import Page
    from precursor_watch.fixtures.allsites import build_sites

    sites = build_sites(world)
    pages = []
    for record in world.truth(day):
        if record["platform"] != SITE:
            continue
        rendered = sites[SITE].handle(urlsplit(record["url"]).path, "", world.day(day))
        headers = {"content-type": f"{rendered.content_type}; charset={rendered.charset}"}
        pages.append(Page(record["url"], rendered.status, headers, rendered.body, record["url"]))
        if len(pages) >= limit:
            break
    declared, hand = adapter_for(SITE).ListingPage, importlib.import_module(HAND_WRITTEN).ListingPage
    times: dict[str, list[float]] = {"declared": [], "hand": []}
    for _ in range(rounds):
        for name, cls in (("declared", declared), ("hand", hand)):
            t0 = time.perf_counter()
            for page in pages:
                cls(page).result()
            times[name].append(time.perf_counter() - t0)
    return len(pages) / min(times["declared"]), len(pages) / min(times["hand"]), len(pages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=50_000, help="world scale (platform size = scale // 5 slots)")
    parser.add_argument("--rounds", type=int, default=3, help="A/B pairs of full crawls")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from precursor_watch.fixtures.server import serve_in_background
    from precursor_watch.fixtures.world import World, WorldConfig

    tmp = Path(tempfile.mkdtemp(prefix="bench-platform-files-"))
    try:
        config = WorldConfig(
            seed=7, start=dt.date(2026, 11, 1), days=30, scale=args.scale, faults="none", port=0, state_dir=tmp / "w"
        )
        day = config.end
        hand_dir = hand_written_files(tmp)
        rates: dict[str, list[float]] = {"declared": [], "hand": []}
        pages = 0
        load0 = os.getloadavg()[0]
        with serve_in_background(config, day) as server:
            base = server.base_urls[SITE]
            for i in range(args.rounds):
                order = [("declared", None), ("hand", hand_dir)]
                for name, files in order if i % 2 == 0 else reversed(order):
                    health = crawl(base, day, tmp / f"{name}-{i}", files)
                    rates[name].append(health["responses"] / health["elapsed_seconds"])
                    pages = health["responses"]
        load1 = os.getloadavg()[0]
        parse_declared, parse_hand, parsed = parse_rates(World(config), day, 2000, 5)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    section = report(args, rates, pages, (parse_declared, parse_hand, parsed), (load0, load1))
    print(section)
    if args.write:
        from bench.crawler import write_section

        write_section(section, SECTION)
    return 0


def report(args, rates, pages, parse, load) -> str:
    ratios = [d / h for d, h in zip(rates["declared"], rates["hand"], strict=True)]
    rows = [
        ("chemdir pages fetched per crawl", f"{pages:,}"),
        ("file-driven crawl: pages/s, each round", ", ".join(f"{r:,.0f}" for r in rates["declared"])),
        ("hand-written crawl: pages/s, each round", ", ".join(f"{r:,.0f}" for r in rates["hand"])),
        ("file-driven / hand-written, each round", ", ".join(f"{r:.0%}" for r in ratios)),
        ("file-driven / hand-written, median (target ≥ 90%)", f"**{statistics.median(ratios):.0%}**"),
        (
            f"extraction alone: listing pages/s ({parse[2]:,} pages, best of 5)",
            f"file-driven {parse[0]:,.0f}, hand-written {parse[1]:,.0f} (**{parse[0] / parse[1]:.0%}**)",
        ),
        ("load average at start / end (2 cores, shared)", f"{load[0]:.1f} / {load[1]:.1f}"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return f"""{SECTION}

Command: `.venv/bin/python -m bench.platform_files --scale {args.scale} --rounds {args.rounds} --write`
(measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; fixture server with one worker on the same 2 cores, faults off).

| measure | value |
|---|---|
{table}

Each crawl is `pwatch crawl --site chemdir --no-db` with a fresh data dir: discovery, extraction,
WARC evidence, health. The two kinds alternate (A/B, then B/A) against one server, so both see the
same load drift. The hand-written page object is `crawlers/pages/chemdir.py`, selected by a copy
of the platform file that names it (`page_object`); the file-driven one reads
`crawlers/platforms/chemdir.toml`. Extraction alone: `ListingPage(page).result()` over the same
rendered pages, in one process, the kinds alternating.
"""


if __name__ == "__main__":
    sys.exit(main())
