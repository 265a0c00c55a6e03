"""Whole-platform states: a closed platform (announced with 503 + `X-Platform-Status: closed`)
turns every revisited URL into a `platform_closed` GoneItem; a platform that is merely down (503
without the announcement) gives crawl errors and not a single GoneItem."""

from __future__ import annotations

from precursor_watch.crawlers.pages import BY_PLATFORM
from tests.crawlers.conftest import DAY, run_crawl


def test_closed_platform_gives_platform_closed_for_every_known_url(fixture_world, tmp_path):
    world = fixture_world("none")
    closure = world.world.platform_closure_day["boardlist"]
    assert closure is not None
    day = world.world.date(closure)
    truth = world.truth("boardlist", day)
    assert any(r["removal_cause"] == "platform_closed" for r in truth)
    revisit = [r["url"] for r in truth]
    result = run_crawl(world, "boardlist", day, tmp_path, revisit=revisit)
    assert result.listings == {}
    # every known URL, and the first index page: the closure notice discovery met
    first_index = world.base_url("boardlist") + BY_PLATFORM["boardlist"].SITE.first_index
    expected = {url: "platform_closed" for url in [*revisit, first_index]}
    assert {url: g["reason"] for url, g in result.gone.items()} == expected
    assert all(g["http_status"] == 503 for g in result.gone.values())
    assert result.health["errors"] == {}
    assert result.health["blocked"].get("platform_closed", 0) >= 1  # index and sitemap not crawled


def test_platform_down_gives_errors_and_no_gone_item(fixture_world, tmp_path):
    world = fixture_world("none")
    truth = world.truth("mercado", DAY)
    revisit = [r["url"] for r in truth]
    world.handle.set_date(DAY)
    world.handle.force_fault("mercado", "*", "down", count=100_000)
    try:
        result = run_crawl(world, "mercado", DAY, tmp_path, revisit=revisit, check=False)
    finally:
        world.handle.clear_faults()
    # every fetch failed: health recorded, and the crawl exits non-zero with one line saying so
    assert result.proc.returncode != 0 and "every fetch failed" in result.proc.stderr.splitlines()[-1]
    assert "Traceback" not in result.proc.stderr
    assert result.gone == {} and result.listings == {}
    assert result.health["error_count"] >= len(revisit)
    assert result.health["error_rate"] == 1.0
    assert "crawl error" in result.proc.stderr


def _crawl_into_db(world, platform, day, data_dir):
    """`pwatch crawl` into the data dir's own SQLite database (no revisit list: a first crawl)."""
    import subprocess

    from tests.crawlers.conftest import ROOT, crawl_command, crawl_env

    world.handle.set_date(day)
    out = data_dir / f"{platform}.jsonl"
    return subprocess.run(crawl_command(world, platform, day, data_dir, out), env=crawl_env(), capture_output=True,
                          text=True, timeout=240, cwd=ROOT)


def _pwatch(data_dir, *args):
    import subprocess
    import sys

    from tests.crawlers.conftest import ROOT, crawl_env

    return subprocess.run([sys.executable, "-m", "precursor_watch", *args, "--data-dir", str(data_dir)], env=crawl_env(),
                          capture_output=True, text=True, timeout=240, cwd=ROOT)


def test_a_platform_closed_before_its_first_crawl_is_counted_closed(fixture_world, tmp_path):
    """The very first crawl of boardlist meets its closure notice: no listing was ever stored, yet
    reconcile records the closure and `pwatch stats` counts one closed platform."""
    import json

    world = fixture_world("none")
    day = world.world.date(world.world.platform_closure_day["boardlist"])
    proc = _crawl_into_db(world, "boardlist", day, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _pwatch(tmp_path, "reconcile", "--date", day.isoformat()).returncode == 0
    stats = _pwatch(tmp_path, "stats", "--from", day.isoformat(), "--to", day.isoformat(), "--format", "json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["total"]["platforms_closed"] == 1


def test_crawl_exits_non_zero_when_every_fetch_failed_and_still_records_health(fixture_world, tmp_path):
    """mercado down on its first crawl: every fetch fails, the crawl exits non-zero with one line
    saying so, and its health is written to health.json and to the crawl run (unhealthy)."""
    import json

    from sqlalchemy import select

    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.models import CrawlRun

    world = fixture_world("none")
    world.handle.force_fault("mercado", "*", "down", count=100_000)
    try:
        proc = _crawl_into_db(world, "mercado", DAY, tmp_path)
    finally:
        world.handle.clear_faults()
    assert proc.returncode != 0
    assert "every fetch failed" in proc.stderr.splitlines()[-1] and "Traceback" not in proc.stderr
    health = json.loads((tmp_path / "jobs" / "mercado" / DAY.isoformat() / "health.json").read_text())
    assert health["pages"] > 0 and health["error_count"] == health["pages"] and health["finish_reason"] == "finished"
    engine = make_engine(f"sqlite:///{tmp_path / 'pwatch.db'}")
    try:
        with engine.connect() as conn:
            (run,) = conn.execute(select(CrawlRun.crawl_date, CrawlRun.healthy, CrawlRun.error_rate)).all()
    finally:
        engine.dispose()
    assert run == (DAY, False, 1.0)
