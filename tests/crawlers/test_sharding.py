"""Sharded crawls (`pwatch crawl --shard I/N`, crawlers/sharding.py): disjoint and complete.

Against a real fixture server on loopback; every crawl is its own `pwatch crawl` subprocess. The
world (scale 7,500: ~1,470 slots per platform on DAY) spans two sitemap blocks of 1,000 slots: with
2 shards, shard 1 owns block 1 (and jumps from index page 50 to page 101, a 404: no block 3) and
shard 2 starts at index page 51. The single-process crawl and each shard talk to their own replica
server (same world, byte-identical pages), so they run at once and each access log belongs to one
crawl (the log does not name the client).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import zlib
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from precursor_watch.crawlers.args import CrawlArgs
from precursor_watch.crawlers.pages import BY_PLATFORM
from precursor_watch.crawlers.sharding import IndexPages, Shard, ShardError, merge_health
from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import World, WorldConfig
from tests.crawlers.conftest import PLATFORMS, ROOT, SELLER_PATH, crawl_env, host_of

SCALE = 7_500
START = dt.date(2026, 11, 1)
DAY = dt.date(2026, 11, 28)  # ~1,470 slots have appeared: two sitemap files
NEXT = DAY + dt.timedelta(days=1)
PLATFORM = "chemdir"
# Fetched by every shard on purpose (crawlers/sharding.py): robots.txt and the sitemap index.
SHARED_PATHS = {"/robots.txt", "/sitemap.xml"}
# Differ between any two crawls of the same pages: when and into which WARC file.
VOLATILE = ("fetched_at", "evidence")


# --- the partition itself (pure functions) ------------------------------------------------------
@pytest.mark.parametrize("text", ["", "2", "0/2", "3/2", "1/0", "a/b", "1/2/3", "-1/2"])
def test_bad_shard_values_are_named(text):
    with pytest.raises(ShardError, match="shard"):
        Shard.parse(text)


def test_bad_shard_is_a_one_line_cli_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "precursor_watch", "crawl", "--site", "chemdir", "--no-db", "--shard", "3/2",
                           "--data-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, env=crawl_env(), timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "shard" in lines[0] and "1 <= I <= N" in lines[0], proc.stderr


@pytest.mark.parametrize("platform", PLATFORMS)
def test_index_page_urls_round_trip(platform):
    site = BY_PLATFORM[platform].SITE
    pages = IndexPages(site.first_index)
    assert pages.path(1) == site.first_index
    for k in (1, 7, 50, 51, 1234):
        assert pages.number("http://127.0.0.11:8470" + pages.path(k)) == k
    assert pages.number("http://127.0.0.11:8470/sitemap.xml") is None


def test_each_index_page_and_sitemap_file_has_one_owner_and_jumps_land_on_owned_pages():
    for n in (1, 2, 3, 5):
        shards = [Shard(i, n) for i in range(1, n + 1)]
        for k in range(1, 800):
            assert sum(s.owns_index_page(k) for s in shards) == 1
            for s in shards:
                target = s.owned_index_page(k)
                assert target >= k and s.owns_index_page(target)
                # no owned page is skipped by a jump
                assert not any(s.owns_index_page(j) for j in range(k, target))
        for b in range(1, 40):
            assert sum(s.owns_sitemap(b) for s in shards) == 1


def test_every_url_of_the_world_has_exactly_one_owner(tmp_path):
    world = World(WorldConfig(seed=7, start=START, days=30, scale=SCALE, port=8470, state_dir=tmp_path))
    truth = [r for r in world.truth(DAY) if r["platform"] in PLATFORMS]  # the platforms with page objects
    assert len(truth) > 5000 // 2
    for n in (2, 3):
        shards = [Shard(i, n) for i in range(1, n + 1)]
        owners = Counter()
        for record in truth:
            site = BY_PLATFORM[record["platform"]].SITE
            for url in (record["url"], world.base_url(record["platform"]) + SELLER_PATH[record["platform"]].format(record["account"])):
                kind, key = site.classify(url)
                assert kind in ("listing", "seller"), url
                mine = [s for s in shards if s.owns_url(kind, key, url, discovered=False)]
                assert len(mine) == 1, url
                owners[mine[0].index] += 1
        assert len(owners) == n  # every shard gets work


def test_merged_health_adds_up_and_recomputes_the_rate():
    a = {"pages": 100, "errors": {"http_503": 2}, "error_count": 2, "error_rate": 0.02, "items": 90,
         "item_counts": {"listings": 80, "gone": {"not_found": 10}, "duplicates_dropped": 0},
         "faults": {"http_5xx": 5}, "finish_reason": "finished", "elapsed_seconds": 3.0, "error_urls": ["u1"]}
    b = {"pages": 300, "errors": {"timeout": 6}, "error_count": 6, "error_rate": 0.02, "items": 290,
         "item_counts": {"listings": 285, "gone": {"not_found": 5}, "duplicates_dropped": 1},
         "faults": {"http_5xx": 1, "timeout": 9}, "finish_reason": "finished", "elapsed_seconds": 7.5, "error_urls": ["u2"]}
    merged = merge_health([a, b])
    assert merged["pages"] == 400 and merged["items"] == 380
    assert merged["errors"] == {"http_503": 2, "timeout": 6} and merged["error_rate"] == 0.02
    assert merged["item_counts"] == {"listings": 365, "gone": {"not_found": 15}, "duplicates_dropped": 1}
    assert merged["faults"] == {"http_5xx": 6, "timeout": 9}
    assert merged["finish_reason"] == "finished" and merged["elapsed_seconds"] == 7.5 and merged["shards"] == 2
    assert merge_health([a, {**b, "finish_reason": "shutdown"}])["finish_reason"] == "shards_unfinished"


def test_job_folders_are_per_shard(tmp_path):
    one = CrawlArgs.checked(platform="chemdir", base_url="http://x", date=DAY, data_dir=tmp_path, shard="1/2")
    two = CrawlArgs.checked(platform="chemdir", base_url="http://x", date=DAY, data_dir=tmp_path, shard="2/2")
    plain = CrawlArgs.checked(platform="chemdir", base_url="http://x", date=DAY, data_dir=tmp_path)
    assert one.job_path != two.job_path and one.job_root == two.job_root == plain.job_path


# --- real crawls -----------------------------------------------------------------------------------
REPLICAS = ("single", "shard1", "shard2")


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """Three servers of the same world (same config: byte-identical pages), one per crawl, so the
    crawls run at once and each access log belongs to exactly one of them."""
    handles = {}
    try:
        for name in REPLICAS:
            config = WorldConfig(seed=7, start=START, days=30, scale=SCALE, faults="none", port=0,
                                 state_dir=tmp_path_factory.mktemp(f"world-{name}"))
            handles[name] = serve_in_background(config, DAY)
        yield handles, World(handles["single"].config)
    finally:
        for handle in handles.values():
            handle.stop()


@pytest.fixture(scope="module")
def server(replicas):
    handles, world = replicas
    return handles["shard1"], world


def _log(handle) -> list[dict[str, Any]]:
    return [json.loads(line) for line in handle.access_log.read_text(encoding="utf-8").splitlines() if line]


def _command(handle, day, data_dir: Path, revisit: Path | None, *extra: str) -> list[str]:
    out = data_dir / f"{PLATFORM}-{day}-{'-'.join(extra).replace('/', 'of') or 'all'}.jsonl"
    command = [sys.executable, "-m", "precursor_watch", "crawl", "--site", PLATFORM, "--date", day.isoformat(),
               "--base-url", handle.base_urls[PLATFORM], "--data-dir", str(data_dir), "--out", str(out), *extra]
    if revisit is not None:
        command += ["--revisit", str(revisit)]
    return command


def _items(command: list[str]) -> list[dict[str, Any]]:
    out = Path(command[command.index("--out") + 1])
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line]


def _run(command: list[str]) -> list[dict[str, Any]]:
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=crawl_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _items(command)


def _run_parallel(commands: list[list[str]]) -> list[list[dict[str, Any]]]:
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=crawl_env())
             for c in commands]
    for proc in procs:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
    return [_items(c) for c in commands]


def _fetched(handle, since: int, day: dt.date) -> list[str]:
    host = host_of(handle.base_urls[PLATFORM])
    return [r["path"] for r in _log(handle)[since:] if r["host"] == host and r["date"] == day.isoformat()]


def _canonical(items: list[dict[str, Any]]) -> Counter:
    return Counter(json.dumps({k: v for k, v in i.items() if k not in VOLATILE}, sort_keys=True) for i in items)


def _revisit_file(world: World, handle, day: dt.date, folder: Path) -> Path:
    """A known-URL list: every removed listing, every 4th live one and each account page."""
    base = handle.base_urls[PLATFORM]
    urls = []
    for record in world.truth(day):
        if record["platform"] == PLATFORM and (record["status"] == "removed" or zlib.crc32(record["listing_key"].encode()) % 4 == 0):
            # The truth's URLs name the first replica's origin: this server's instead.
            urls += [record["url"].replace(world.base_url(PLATFORM), base), base + SELLER_PATH[PLATFORM].format(record["account"])]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "revisit.txt"
    path.write_text("".join(f"{u}\n" for u in dict.fromkeys(urls)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def day_one(replicas, tmp_path_factory):
    """A single-process crawl and the same crawl in 2 shards, all at once, each on its own replica,
    with the same revisit list. URLs in items are made replica-independent (`BASE`)."""
    handles, world = replicas
    root = tmp_path_factory.mktemp("shard-crawls")
    shard_of = {"single": (), "shard1": ("--shard", "1/2"), "shard2": ("--shard", "2/2")}
    commands, revisits = {}, {}
    for name, handle in handles.items():
        revisits[name] = _revisit_file(world, handle, DAY, root / name)
        # Shards of one crawl share a data dir (as on a cluster volume); their bases differ here only
        # because each talks to its own replica.
        data_dir = root / ("single" if name == "single" else "sharded")
        commands[name] = _command(handle, DAY, data_dir, revisits[name], "--no-db", *shard_of[name])
    marks = {name: len(_log(h)) for name, h in handles.items()}
    items = dict(zip(commands, _run_parallel(list(commands.values()))))
    base = {name: h.base_urls[PLATFORM] for name, h in handles.items()}
    neutral = {name: [json.loads(json.dumps(i).replace(base[name], "BASE")) for i in items[name]] for name in items}
    paths = {name: _fetched(h, marks[name], DAY) for name, h in handles.items()}
    revisit_paths = [u.removeprefix(base["single"]) for u in revisits["single"].read_text(encoding="utf-8").split()]
    return {"root": root, "revisit_paths": revisit_paths, "single": neutral["single"],
            "single_paths": paths["single"], "shards": [neutral["shard1"], neutral["shard2"]],
            "shard_paths": [paths["shard1"], paths["shard2"]]}


def test_two_shards_equal_one_process(day_one, replicas):
    _, world = replicas
    single, shards = day_one["single"], day_one["shards"]
    union = shards[0] + shards[1]
    assert _canonical(union) == _canonical(single)
    keys = [(i["type"], i["url"]) for i in union]
    assert len(keys) == len(set(keys)), "an item came out of both shards"
    # Not vacuous: each shard did real work and the world has its three blocks.
    assert min(len(s) for s in shards) > 300
    base = world.base_url(PLATFORM)
    live = {r["url"].replace(base, "BASE") for r in world.truth(DAY) if r["platform"] == PLATFORM and r["status"] == "live"}
    assert {i["url"] for i in union if i["type"] == "listing"} == live
    assert any(i["type"] == "gone" for i in union)


def test_no_url_is_fetched_by_both_shards(day_one):
    one, two = (Counter(p) for p in day_one["shard_paths"])
    shared = (set(one) & set(two)) - SHARED_PATHS
    assert not shared, sorted(shared)[:10]
    # Together they fetched what the single process fetched (attempts per URL aside), plus at most
    # one index page per shard past the end: a jump into a block that does not exist (a 404).
    single = set(day_one["single_paths"])
    assert single <= (set(one) | set(two))
    extra = (set(one) | set(two)) - single
    last = max(int(p.split("=")[1]) for p in single if p.startswith("/products?page="))
    assert len(extra) <= 2 and all(p.startswith("/products?page=") and int(p.split("=")[1]) > last for p in extra), extra
    # Shard 2 started at block 2 (index page 51); shard 1 jumped from page 50 over it to page 101.
    assert "/products?page=101" in one and "/products?page=51" in two and "/products?page=51" not in one


def test_revisit_list_is_partitioned(day_one):
    revisit = day_one["revisit_paths"]
    one, two = (set(p) for p in day_one["shard_paths"])
    accounts = [p for p in revisit if p.startswith("/supplier/")]
    assert accounts and all((p in one) != (p in two) for p in revisit), "each known URL exactly once"
    assert any(p in one for p in accounts) and any(p in two for p in accounts)


def test_next_day_is_not_filtered_by_the_previous_day(day_one, server):
    """Day 2, same data dir, revisit-only: every URL seen on day 1 is fetched again, exactly once."""
    handle, world = server
    base = handle.base_urls[PLATFORM]
    # Every 4th URL seen on day 1 (listings, gone pages, accounts): enough for both shards, quick.
    seen = sorted({i["url"].replace("BASE", base) for s in day_one["shards"] for i in s})[::4]
    root = day_one["root"]
    revisit = root / "revisit-next.txt"
    revisit.write_text("".join(f"{u}\n" for u in seen), encoding="utf-8")
    handle.set_date(NEXT)
    mark = len(_log(handle))
    try:
        items = _run_parallel([_command(handle, NEXT, root / "sharded", revisit, "--no-db", "--no-discover",
                                        "--shard", f"{i}/2") for i in (1, 2)])
    finally:
        handle.set_date(DAY)
    assert min(len(x) for x in items) > 50
    union = items[0] + items[1]
    keys = [(i["type"], i["url"]) for i in union]
    assert len(keys) == len(set(keys)) and {i["url"] for i in union} == set(seen)
    fetched = Counter(_fetched(handle, mark, NEXT))
    assert all(fetched[u.removeprefix(base)] == 1 for u in seen)
    live = {r["url"] for r in world.truth(NEXT) if r["platform"] == PLATFORM and r["status"] == "live"}
    base_single = world.base_url(PLATFORM)
    assert {i["url"] for i in union if i["type"] == "listing"} == {u for u in seen if u.replace(base, base_single) in live}


@pytest.mark.slow  # four crawl processes and a migration: ~60 s on the shared machine, mostly start-up
def test_sharded_run_in_storage_is_the_merge_and_reruns_change_nothing(server, tmp_path):
    """Shards in parallel into one SQLite database: the crawl run's health is the sum of the shards'."""
    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.models import CrawlRun, Observation

    handle, world = server
    handle.set_date(DAY)
    revisit = _revisit_file(world, handle, DAY, tmp_path)
    # A quarter of the known URLs keeps it quick; the schema first (with --revisit the crawl does
    # not read the revisit list from the database, so it does not upgrade it).
    urls = revisit.read_text(encoding="utf-8").split()[::3]
    revisit.write_text("".join(f"{u}\n" for u in urls), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "precursor_watch", "db", "upgrade", "--data-dir", str(tmp_path)], check=True,
                   capture_output=True, cwd=ROOT, env=crawl_env(), timeout=120)
    commands = [_command(handle, DAY, tmp_path, revisit, "--no-discover", "--shard", f"{i}/2") for i in (1, 2)]

    def state():
        healths = [json.loads((tmp_path / "jobs" / PLATFORM / DAY.isoformat() / f"shard-{i}-of-2" / "health.json").read_text())
                   for i in (1, 2)]
        engine = make_engine(f"sqlite:///{tmp_path / 'pwatch.db'}")
        with Session(engine) as session:
            run = session.scalars(select(CrawlRun)).one()
            observed = session.scalar(select(func.count()).select_from(Observation))
            row = (run.pages, run.items, dict(run.errors), run.closed, run.healthy)
        engine.dispose()
        return healths, row, observed

    first = _run_parallel(commands)
    healths, row, observed = state()
    assert all(h["pages"] > 50 for h in healths)
    assert row == (sum(h["pages"] for h in healths), sum(h["items"] for h in healths), {}, True, True)
    assert row[1] == len(first[0]) + len(first[1])
    assert observed == row[1]
    _run_parallel(commands)
    _, again, observed_again = state()
    assert again == row and observed_again == observed
