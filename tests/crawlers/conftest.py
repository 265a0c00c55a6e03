"""Crawler tests: real fixture servers on loopback, one crawl per subprocess (`pwatch crawl`).

The world is small (scale 500: ~100 slots per platform) and crawled on a day late enough to
hold every removal style and cause except the boardlist closure (which has its own test).
Expectations come from the world's truth (`World.truth`), never from the crawler's own code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from precursor_watch.fixtures.server import ServerHandle, serve_in_background
from precursor_watch.fixtures.world import World, WorldConfig

ROOT = Path(__file__).resolve().parents[2]
SEED = 7
START = dt.date(2026, 11, 1)
DAYS = 30
SCALE = 500
DAY = dt.date(2026, 11, 20)  # has account closures, store closures and plain removals
# The five first platforms and the two onboarded by platform files alone.
PLATFORMS = ("chemdir", "tradehub", "boardlist", "huaxue", "mercado", "sourcing", "shopfront")

# Our GoneItem reason for a plain removal (notice or spontaneous) per platform (fixtures/README.md).
STYLE = {"chemdir": "not_found", "tradehub": "gone", "boardlist": "soft_removed", "huaxue": "redirected", "mercado": "not_found",
         "sourcing": "soft_removed"}
# Seller and store page paths (fixtures/README.md, "URL scheme"); None = the store is the seller page.
SELLER_PATH = {"chemdir": "/supplier/{}.html", "tradehub": "/seller/{}", "boardlist": "/user/{}", "huaxue": "/member/{}.html", "mercado": "/vendedor/{}",
               "sourcing": "/company/{}/", "shopfront": "/store/{}/"}
STORE_PATH = {"tradehub": "/store/{}", "huaxue": "/shop/{}.html"}


def expected_reason(record: dict[str, Any]) -> str:
    cause = record["removal_cause"]
    if cause in ("account_closed", "store_closed", "platform_closed"):
        return cause
    if record["platform"] == "shopfront":
        # The world's rule (fixtures/sites_shopfront.py): half the plain removals answer a 200
        # "discontinued" page (a soft removal), the others 404.
        from precursor_watch.fixtures.hashing import unit
        from precursor_watch.fixtures.sites_shopfront import DISCONTINUED_SHARE

        soft = unit(SEED, "discontinued", "shopfront", record["listing_key"]) < DISCONTINUED_SHARE
        return "soft_removed" if soft else "not_found"
    return STYLE[record["platform"]]


@dataclass
class FixtureWorld:
    handle: ServerHandle
    world: World
    profile: str

    def base_url(self, platform: str) -> str:
        return self.handle.base_urls[platform]

    def truth(self, platform: str, day: dt.date) -> list[dict[str, Any]]:
        return [r for r in self.world.truth(day) if r["platform"] == platform]

    def access_log(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.handle.access_log.read_text(encoding="utf-8").splitlines() if line]

    def revisit_urls(self, platform: str, day: dt.date) -> tuple[list[str], dict[str, str]]:
        """Every listing URL of the truth plus its seller and store pages; expected gone reasons by URL."""
        base = self.base_url(platform)
        urls: list[str] = []
        expected: dict[str, str] = {}
        dayno = self.world.day(day)
        for record in self.truth(platform, day):
            urls.append(record["url"])
            if record["status"] == "removed":
                expected[record["url"]] = expected_reason(record)
            seller = base + SELLER_PATH[platform].format(record["account"])
            if seller not in urls:
                urls.append(seller)
                closed = self.world.account_close_day(platform, record["account"])
                if closed is not None and closed <= dayno:
                    expected[seller] = "account_closed"
            if platform in STORE_PATH:
                store = base + STORE_PATH[platform].format(record["store"])
                if store not in urls:
                    urls.append(store)
                    closed = self.world.store_close_day(platform, record["store"])
                    if closed is not None and closed <= dayno:
                        expected[store] = "store_closed"
        return urls, expected


@dataclass
class CrawlResult:
    proc: subprocess.CompletedProcess
    items: list[dict[str, Any]]
    health: dict[str, Any]
    data_dir: Path
    out: Path
    listings: dict[str, dict[str, Any]] = field(default_factory=dict)
    gone: dict[str, dict[str, Any]] = field(default_factory=dict)


def crawl_command(world: FixtureWorld, platform: str, day: dt.date, data_dir: Path, out: Path,
                  revisit: list[str] | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    command = [sys.executable, "-m", "precursor_watch", "crawl", "--site", platform, "--date", day.isoformat(),
               "--base-url", world.base_url(platform), "--data-dir", str(data_dir), "--out", str(out)]
    if revisit is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / f"revisit-{platform}.txt"
        path.write_text("".join(f"{u}\n" for u in revisit), encoding="utf-8")
        command += ["--revisit", str(path)]
    return command + list(extra)


def crawl_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PWATCH_LOG_LEVEL"] = "WARNING"
    return env


def load_result(proc: subprocess.CompletedProcess, data_dir: Path, out: Path, platform: str, day: dt.date) -> CrawlResult:
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    health_file = data_dir / "jobs" / platform / day.isoformat() / "health.json"
    health = json.loads(health_file.read_text(encoding="utf-8")) if health_file.exists() else {}
    result = CrawlResult(proc, items, health, data_dir, out)
    result.listings = {i["url"]: i for i in items if i["type"] == "listing"}
    result.gone = {i["url"]: i for i in items if i["type"] == "gone"}
    return result


def run_crawl(world: FixtureWorld, platform: str, day: dt.date, data_dir: Path, revisit: list[str] | None = None,
              extra: tuple[str, ...] = (), check: bool = True) -> CrawlResult:
    """One crawl in its own process, the world set to `day` first."""
    world.handle.set_date(day)
    out = data_dir / f"{platform}.jsonl"
    proc = subprocess.run(crawl_command(world, platform, day, data_dir, out, revisit, ("--no-db", *extra)),
                          env=crawl_env(), capture_output=True, text=True, timeout=240, cwd=ROOT)
    if check:
        assert proc.returncode == 0, f"crawl failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return load_result(proc, data_dir, out, platform, day)


def run_crawls_parallel(world: FixtureWorld, day: dt.date, jobs: dict[str, tuple[Path, list[str] | None]],
                        extra: tuple[str, ...] = ()) -> dict[str, CrawlResult]:
    """Several platforms crawled at once (one process each); they spend most time waiting."""
    world.handle.set_date(day)
    procs = {}
    for platform, (data_dir, revisit) in jobs.items():
        out = data_dir / f"{platform}.jsonl"
        command = crawl_command(world, platform, day, data_dir, out, revisit, ("--no-db", *extra))
        procs[platform] = (subprocess.Popen(command, env=crawl_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True, cwd=ROOT), command, data_dir, out)
    results = {}
    for platform, (proc, command, data_dir, out) in procs.items():
        stdout, stderr = proc.communicate(timeout=900)  # seven crawls at once on 2 shared cores
        completed = subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)
        assert proc.returncode == 0, f"crawl of {platform} failed ({proc.returncode}):\n{stderr[-3000:]}"
        results[platform] = load_result(completed, data_dir, out, platform, day)
    return results


def host_of(url: str) -> str:
    return url.split("//", 1)[1].split(":", 1)[0]


@pytest.fixture(scope="session")
def fixture_world(tmp_path_factory):
    """fixture_world(profile) -> a running FixtureWorld (one server per profile per session)."""
    running: dict[str, FixtureWorld] = {}

    def get(profile: str) -> FixtureWorld:
        if profile not in running:
            state = tmp_path_factory.mktemp(f"world-{profile.replace(',', '-').replace('=', '-')}")
            config = WorldConfig(seed=SEED, start=START, days=DAYS, scale=SCALE, faults=profile, port=0, state_dir=state)
            handle = serve_in_background(config, DAY)
            running[profile] = FixtureWorld(handle, World(handle.config), profile)
        return running[profile]

    yield get
    for world in running.values():
        world.handle.stop()


@pytest.fixture(scope="session")
def flaky_crawls(fixture_world, tmp_path_factory):
    """All five platforms crawled at once under `flaky` on DAY, each with its full revisit list.

    (world, {platform: CrawlResult with `server_log`: its host's access-log lines}, {platform:
    expected gone reasons by URL}). Shared by the capture and resume tests.
    """
    world = fixture_world("flaky")
    jobs, expected = {}, {}
    for platform in PLATFORMS:
        urls, expected[platform] = world.revisit_urls(platform, DAY)
        jobs[platform] = (tmp_path_factory.mktemp(f"flaky-{platform}"), urls)
    before = len(world.access_log())
    results = run_crawls_parallel(world, DAY, jobs)
    log = world.access_log()[before:]
    for platform, result in results.items():
        result.server_log = [r for r in log if r["host"] == host_of(world.base_url(platform))]
    return world, results, expected
