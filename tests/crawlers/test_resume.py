"""A crawl killed with SIGKILL mid-way and started again: the union of the items equals an
uninterrupted crawl, with no item lost or duplicated, and pages already stored are not fetched
again."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.crawlers.conftest import DAY, ROOT, crawl_command, crawl_env, host_of, run_crawl

PLATFORM = "tradehub"
VOLATILE = {"fetched_at", "evidence"}  # differ between any two crawls by nature


def _comparable(items):
    return {i["url"]: {k: v for k, v in i.items() if k not in VOLATILE} for i in items}


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_same_items_as_an_uninterrupted_crawl(flaky_crawls, tmp_path):
    # The uninterrupted crawl: the same world, day and revisit list, crawled for the capture tests.
    world, results, _expected = flaky_crawls
    baseline = results[PLATFORM]
    revisit, _expected = world.revisit_urls(PLATFORM, DAY)
    assert len(baseline.items) > 50

    # The interrupted crawl: the server answers slowly so the kill lands mid-crawl.
    data_dir = tmp_path / "interrupted"
    out = data_dir / f"{PLATFORM}.jsonl"
    world.handle.set_date(DAY)
    world.handle.force_fault(PLATFORM, "*", "slow", count=100_000)
    before = len(world.access_log())
    try:
        command = crawl_command(world, PLATFORM, DAY, data_dir, out, revisit, ("--no-db",))
        proc = subprocess.Popen(command, env=crawl_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 20:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the crawl ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        world.handle.clear_faults()
    first_run = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert 20 <= len(first_run) < len(baseline.items)
    job = data_dir / "jobs" / PLATFORM / DAY.isoformat()
    assert not (job / "complete").exists()
    journaled = {line for line in (job / "journal.keys").read_text(encoding="utf-8").splitlines() if line}
    assert journaled and journaled <= {i["url"] for i in first_run}

    # Started again with the same data dir: it resumes.
    middle = len(world.access_log())
    resumed = run_crawl(world, PLATFORM, DAY, data_dir, revisit=revisit)
    urls = [i["url"] for i in resumed.items]
    assert len(urls) == len(set(urls)), "an item was written twice"
    assert _comparable(resumed.items) == _comparable(baseline.items)
    assert resumed.health["resumed_skipped"] == len(journaled)

    # Pages the killed run had stored (journaled) were not fetched again.
    base = world.base_url(PLATFORM)
    host = host_of(base)
    refetched = {base + r["path"] for r in world.access_log()[middle:] if r["host"] == host}
    assert refetched & journaled == set()
    assert len(world.access_log()) > before
    assert (job / "complete").exists()
