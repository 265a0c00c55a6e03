"""`pwatch notify` against the real fixture world's notice endpoints: killed midway or refused,
then rerun — each platform receives each listing exactly once, and the world removes per policy."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.contract import ListingItem
from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import World, WorldConfig
from precursor_watch.enforcement.notices import send_notices
from precursor_watch.storage.models import Notice
from tests.reports.conftest import evidence

START = dt.date(2026, 11, 1)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path):
    config = WorldConfig(seed=3, start=START, days=30, scale=60, port=0, state_dir=tmp_path / "fixtures")
    with serve_in_background(config, START) as handle:
        yield handle


def _track(world, server, platforms=("chemdir", "mercado"), per_platform=3):
    """Listings the fixture world really has, tracked and confirmed through storage's API."""
    truth = [r for r in World(server.config).truth(START) if r["status"] == "live"]
    chosen = {}
    for platform in platforms:
        rows = [r for r in truth if r["platform"] == platform][:per_platform]
        items = [ListingItem(platform=platform, listing_key=r["listing_key"], url=r["url"], title=f"4-ANPP {r['listing_key']}",
                             text=f"4-ANPP offer {r['listing_key']}", lang="en", crawl_date=START, evidence=evidence(r["url"]))
                 for r in rows]
        world.crawl(platform, "", START, items)
        for r in rows:
            world.review(r["listing_key"], "confirmed", START)
        chosen[platform] = [r["url"] for r in rows]
    return chosen


def _received(server):
    path = server.config.state_dir / "notices.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []




def test_killed_while_waiting_for_the_answer_then_rerun(world, server):
    chosen = _track(world, server)
    server.force_fault("chemdir", "/notices", "slow")  # the platform records it, answers 1.5 s later
    # the real command, killed while it waits for chemdir's answer
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWATCH_")}
    proc = subprocess.Popen([sys.executable, "-m", "precursor_watch", "notify", "--date", START.isoformat(),
                             "--data-dir", str(world.settings.data_path)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(n["platform"] == "chemdir" for n in _received(server)) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # killed midway: chemdir has the notice, we have no ticket
    proc.wait()
    with Session(world.engine) as s:
        assert [n.ticket for n in s.scalars(select(Notice))] == [None]
    # rerun (`pwatch notify` again): chemdir's pending notice re-sent with its key (same ticket),
    # mercado's sent for the first time
    rerun = subprocess.run([sys.executable, "-m", "precursor_watch", "notify", "--date", START.isoformat(), "--data-dir",
                            str(world.settings.data_path)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert {k: v for k, v in json.loads(rerun.stdout).items() if k != "auto_confirmed"} == {"sent": 1, "resent": 1, "listings": 3, "failed": 0}
    for _ in range(2):  # and any number of reruns after that
        assert send_notices(world.settings, START) == {"sent": 0, "resent": 0, "listings": 0, "failed": 0}
    received = _received(server)
    urls = [u for n in received for u in n["urls"]]
    assert sorted(urls) == sorted(u for us in chosen.values() for u in us) and len(urls) == len(set(urls))
    assert sorted(n["platform"] for n in received) == ["chemdir", "mercado"]
    with Session(world.engine) as s:
        tickets = {n.idempotency_key: n.ticket for n in s.scalars(select(Notice))}
    assert tickets == {n["idempotency_key"]: n["ticket"] for n in received}


def test_refused_then_resent_and_the_world_removes_per_policy(world, server):
    chosen = _track(world, server, platforms=("chemdir",), per_platform=4)
    server.force_fault("chemdir", "/notices", "down")  # platform down: nothing recorded
    assert send_notices(world.settings, START)["failed"] == 1 and _received(server) == []
    server.force_fault("chemdir", "/notices", "503")  # recorded, but the answer is an error
    assert send_notices(world.settings, START)["failed"] == 1 and len(_received(server)) == 1
    assert send_notices(world.settings, START) == {"sent": 0, "resent": 1, "listings": 0, "failed": 0}
    (notice,) = _received(server)
    assert notice["urls_accepted"] == 4 and sorted(notice["urls"]) == sorted(chosen["chemdir"])
    # chemdir complies with ~90% of noticed listings one day after receiving the notice
    truth = {r["url"]: r for r in World(server.config).truth(START + dt.timedelta(days=2))}
    removed = [u for u in chosen["chemdir"] if truth[u]["removal_cause"] == "notice"]
    assert removed and all(truth[u]["removed_on"] == (START + dt.timedelta(days=1)).isoformat() for u in removed)


def test_the_world_acts_the_same_whatever_order_we_ingested_the_listings_in(tmp_path):
    """Two runs that track the same listings, ingested in another order (so with other database
    ids, as parallel crawls give from run to run), send the same notices and the fixture world
    removes the same listings: it decides compliance from the notice's idempotency key."""
    from precursor_watch.storage.db import make_engine, upgrade
    from tests.reports.conftest import ReportSettings
    from tests.reports.conftest import World as Tracked

    outcomes = []
    for order in (1, -1):
        root = tmp_path / f"order{order}"
        config = WorldConfig(seed=3, start=START, days=30, scale=60, port=0, state_dir=root / "fixtures")
        url = f"sqlite:///{root / 'pwatch.db'}"
        root.mkdir()
        upgrade(url)
        tracked = Tracked(ReportSettings(root, url), make_engine(url))
        try:
            with serve_in_background(config, START) as server:
                truth = [r for r in World(server.config).truth(START) if r["status"] == "live"]
                by_platform = {p: [r for r in truth if r["platform"] == p][:8] for p in ("chemdir", "boardlist")}
                for platform, rows in list(by_platform.items())[::order]:  # which crawl was ingested first
                    items = [ListingItem(platform=platform, listing_key=r["listing_key"], url=r["url"],
                                         title=f"4-ANPP {r['listing_key']}", text=f"4-ANPP offer {r['listing_key']}", lang="en",
                                         crawl_date=START, evidence=evidence(r["listing_key"])) for r in rows]
                    tracked.crawl(platform, "", START, items[::order])
                    for r in rows:
                        tracked.review(r["listing_key"], "confirmed", START)
                assert send_notices(tracked.settings, START)["sent"] == 2
                keys = {n["platform"]: n["idempotency_key"] for n in _received(server)}
                later = World(server.config).truth(START + dt.timedelta(days=5))
                removed = {(r["listing_key"], r["removed_on"], r["removal_cause"]) for r in later if r["removed_on"]}
        finally:
            tracked.engine.dispose()
        outcomes.append((keys, removed))
    assert outcomes[0][0] == outcomes[1][0]  # the same idempotency key per platform
    assert outcomes[0][1] == outcomes[1][1]  # and so the same removals in the world
    assert any(cause == "notice" for _key, _on, cause in outcomes[0][1])
