"""Benchmark: the daily cycle in search mode vs full crawls on a large world with few relevant listings.

Run: .venv/bin/python -m bench.discovery [--scale 1000000] [--relevant-share 0.01] [--sample 50] [--write]

One fixture world (all five platforms, faults off), two tracking databases (SQLite), in one run:
- search: `pwatch crawl --discovery search` of every platform on day D-1 (fills the database with
  what search finds), then the measured day D: search crawl (queries, flagged sellers' pages,
  conditional revisits) + detect + reconcile;
- full: the same two days with `--discovery full`, each platform crawled as shard 1 of `--sample`
  (crawlers/sharding.py: every `--sample`-th block of 1,000 slots with its index pages and
  sitemap file), because a full crawl of the whole catalogue takes hours here. Its pages and
  seconds are multiplied by `--sample`; its capture is measured on its own slots.
The two sides alternate (search D-1, full D-1, search D, full D) under the same load. Offers are
the world's truth: listings live on D with label 1 (every offer is a relevant listing, so only
relevant slots are read). With --write the section "## Discovery" of BENCHMARKS.md is replaced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Discovery"
SEED, START, DAYS = 7, dt.date(2026, 11, 1), 30
PLATFORMS = ("chemdir", "tradehub", "boardlist", "huaxue", "mercado")


def _settings(data: Path, port: int, scale: int, share: float):
    from precursor_watch.settings import load_settings

    return load_settings(
        data_dir=str(data),
        environ={},
        seed=str(SEED),
        scale=str(scale),
        world_start=START.isoformat(),
        world_days=str(DAYS),
        fixture_port=str(port),
        platforms=",".join(PLATFORMS),
        relevant_share=str(share),
        auto_confirm="true",
        log_level="WARNING",
    )


def _cycle(settings, day: dt.date, discovery: str, shard: str | None, detector) -> dict:
    """One daily cycle (crawl of every platform one after another, detect, reconcile), timed."""
    from precursor_watch import steps

    steps.prepare_day(settings, day)
    t0 = time.monotonic()
    pages = 0
    for platform in PLATFORMS:
        summary = steps.crawl_platform(settings, platform, day, shard=shard, discovery=discovery)
        pages += int(summary.get("pages") or 0)
    t_crawl = time.monotonic() - t0
    detected = steps.detect(settings, day, detector)
    t_detect = time.monotonic() - t0 - t_crawl
    steps.reconcile(settings, day)
    total = time.monotonic() - t0
    return {
        "pages": pages,
        "crawl_s": t_crawl,
        "detect_s": t_detect,
        "reconcile_s": total - t_crawl - t_detect,
        "cycle_s": total,
        "detected": detected,
    }


def _observed(settings, day: dt.date) -> set[tuple[str, str]]:
    """(platform, listing key) of every live sighting in day's crawl runs."""
    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.models import CrawlRun, Listing, Observation, Platform

    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as s:
            rows = s.execute(
                select(Platform.name, Listing.listing_key)
                .join(Listing, Listing.platform_id == Platform.id)
                .join(Observation, Observation.listing_id == Listing.id)
                .join(CrawlRun, CrawlRun.id == Observation.crawl_run_id)
                .where(CrawlRun.crawl_date == day, Observation.kind == "seen")
            ).all()
    finally:
        engine.dispose()
    return {(p, k) for p, k in rows}


def _live_offers(world, day: dt.date) -> dict[tuple[str, str], int]:
    """(platform, key) -> slot of every listing live on `day` that the truth labels an offer."""
    dayno = world.day(day)
    slots = sorted({s for p in PLATFORMS for s in world.relevant_slots(p)})
    offers = {}
    for platform in PLATFORMS:
        for slot in slots:
            for listing in world.slot_listings(platform, slot):
                state = world.state(listing, dayno)
                if state is not None and state.status == "live" and world.record(listing, state)["label"] == 1:
                    offers[(platform, listing.key)] = slot
    return offers


def run(scale: int, share: float, sample: int) -> dict:
    from precursor_watch import steps
    from precursor_watch.fixtures.server import serve_in_background
    from precursor_watch.fixtures.world import World, WorldConfig
    from precursor_watch.nlp.detector import Detector
    from precursor_watch.training_data import ensure_model

    day = START + dt.timedelta(days=9)
    tmp = Path(tempfile.mkdtemp(prefix="bench-discovery-"))
    config = WorldConfig(
        seed=SEED, start=START, days=DAYS, scale=scale, relevant_share=share, port=0, state_dir=tmp / "world"
    )
    with serve_in_background(config, day) as server:
        search = _settings(tmp / "search", server.config.port, scale, share)
        full = _settings(tmp / "full", server.config.port, scale, share)
        detector = Detector.load(ensure_model(search))
        shard = f"1/{sample}"
        for s in (search, full):
            steps.upgrade_database(s)
        os.environ.update(steps.settings_environment(search))  # children read log level etc.
        print(f"bench data in {tmp}", flush=True)
        warm: dict[str, dict] = {}
        measured: dict[str, dict] = {}
        for side, settings, part in (("search", search, None), ("full", full, shard)):
            warm[side] = _cycle(settings, day - dt.timedelta(days=1), side, part, detector)
            _keep(tmp, warm, measured)
        for side, settings, part in (("search", search, None), ("full", full, shard)):
            measured[side] = _cycle(settings, day, side, part, detector)
            _keep(tmp, warm, measured)
        result = _capture(World(server.config), search, full, sample, day)
    return {"scale": scale, "share": share, "sample": sample, "warm": warm, "measured": measured, **result}


def _capture(world, search, full, sample: int, day: dt.date) -> dict:
    """Offers live on `day` (truth) and how many each side saw live that day."""
    from precursor_watch.crawlers.sharding import SLOTS_PER_BLOCK, Shard

    offers = _live_offers(world, day)
    owner = Shard.parse(f"1/{sample}")
    in_sample = {k for k, slot in offers.items() if owner.owns_block(slot // SLOTS_PER_BLOCK)}
    seen_search, seen_full = _observed(search, day), _observed(full, day)
    return {
        "day": day.isoformat(),
        "offers": len(offers),
        "offers_search": len(set(offers) & seen_search),
        "offers_sample": len(in_sample),
        "offers_full_sample": len(in_sample & seen_full),
        "offers_search_in_sample": len(in_sample & seen_search),
        "load": os.getloadavg(),
    }


def analyse(tmp: Path, scale: int, share: float, sample: int, which: str) -> dict:
    """The numbers of an earlier run's data dir (`cycles.json`, both databases, the world's
    state): `which` = warm (day D-1, both databases empty before it) or measured (day D)."""
    from precursor_watch.fixtures.world import World, WorldConfig

    cycles = json.loads((tmp / "cycles.json").read_text(encoding="utf-8"))
    day = START + dt.timedelta(days=9 if which == "measured" else 8)
    config = WorldConfig(
        seed=SEED, start=START, days=DAYS, scale=scale, relevant_share=share, port=0, state_dir=tmp / "world"
    )
    search, full = _settings(tmp / "search", 0, scale, share), _settings(tmp / "full", 0, scale, share)
    result = _capture(World(config), search, full, sample, day)
    return {"scale": scale, "share": share, "sample": sample, "measured": cycles[which], "which": which, **result}


def _keep(tmp: Path, warm: dict, measured: dict) -> None:
    """Each finished cycle's numbers, so a long run interrupted later still shows them."""
    (tmp / "cycles.json").write_text(json.dumps({"warm": warm, "measured": measured}, default=str), encoding="utf-8")


def table(r: dict) -> str:
    s, f, k = r["measured"]["search"], r["measured"]["full"], r["sample"]
    full_pages, full_cycle = f["pages"] * k, f["cycle_s"] * k
    search_share = r["offers_search"] / r["offers"] if r["offers"] else 0.0
    full_share = r["offers_full_sample"] / r["offers_sample"] if r["offers_sample"] else 0.0
    rows = [
        ("world: listings / relevant share / measured day", f"{r['scale']:,} / {r['share']} / {r['day']}"),
        ("search day: pages fetched (all platforms)", f"{s['pages']:,}"),
        (f"full day: pages fetched on the 1/{k} sample / extrapolated ×{k}", f"{f['pages']:,} / {full_pages:,}"),
        ("pages, search / full (target ≤ 5%)", f"**{s['pages'] / full_pages:.2%}**"),
        ("live offers on the day (truth) / captured by search", f"{r['offers']:,} / {r['offers_search']:,}"),
        (
            "offers in the full sample's slots / captured by full / by search",
            f"{r['offers_sample']:,} / {r['offers_full_sample']:,} / {r['offers_search_in_sample']:,}",
        ),
        (
            "capture, search share / full share (target ≥ 98%)",
            f"**{search_share / full_share:.2%}**" if full_share else "n/a",
        ),
        (
            "search cycle: crawl + detect + reconcile (s)",
            f"{s['crawl_s']:.0f} + {s['detect_s']:.0f} + {s['reconcile_s']:.0f} = {s['cycle_s']:.0f}",
        ),
        (
            f"full cycle on the sample (s) / extrapolated ×{k}",
            f"{f['crawl_s']:.0f} + {f['detect_s']:.0f} + {f['reconcile_s']:.0f} = {f['cycle_s']:.0f}"
            f" / {full_cycle:,.0f}",
        ),
        ("daily cycle speed-up, full / search (target ≥ 10×)", f"**{full_cycle / s['cycle_s']:.1f}×**"),
        ("load average at the end (2 cores, shared)", " / ".join(f"{x:.1f}" for x in r["load"])),
    ]
    return "\n".join(["| measure | value |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--relevant-share", type=float, default=0.01)
    parser.add_argument("--sample", type=int, default=50, help="full crawl measured on shard 1 of this many")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--analyse", type=Path, help="only compute the numbers of an earlier run's data dir")
    parser.add_argument("--which", choices=("warm", "measured"), default="measured")
    args = parser.parse_args(argv)
    if args.analyse:
        result = analyse(args.analyse, args.scale, args.relevant_share, args.sample, args.which)
    else:
        result = run(args.scale, args.relevant_share, args.sample)
    print(json.dumps(result, indent=1, default=str))
    text = table(result)
    print(text)
    if args.write:
        _write(args, text)
    return 0


def _write(args, text: str) -> None:
    bench = ROOT / "BENCHMARKS.md"
    body = bench.read_text(encoding="utf-8")
    command = (
        f"`.venv/bin/python -m bench.discovery --scale {args.scale} --relevant-share {args.relevant_share} "
        f"--sample {args.sample} --write`"
    )
    section = f"{SECTION}\n\nCommand: {command} (measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC).\n\n{text}\n"
    if SECTION in body:
        head, _, rest = body.partition(SECTION)
        tail = rest[rest.find("\n## ") :] if "\n## " in rest else "\n"
        body = head + section + tail
    else:
        body = body.rstrip("\n") + "\n\n" + section
    bench.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
