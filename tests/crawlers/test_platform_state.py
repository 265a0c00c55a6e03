"""Whole-platform states: a closed platform (announced with 503 + `X-Platform-Status: closed`)
turns every revisited URL into a `platform_closed` GoneItem; a platform that is merely down (503
without the announcement) gives crawl errors and not a single GoneItem."""

from __future__ import annotations

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
    assert {url: g["reason"] for url, g in result.gone.items()} == {url: "platform_closed" for url in revisit}
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
