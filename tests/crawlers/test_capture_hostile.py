"""All seven platforms under the `hostile` fault profile (traps in the index pages, oversized
pages, moved listings, a charset that lies, poisoned fields), each driven by its platform file:
every live listing captured (or, for an unusable poisoned field, quarantined: still a sighting),
every field equal to the truth on the pages without poison, every removal with its reason and no
false one. test_hostile.py checks the traps themselves on two platforms.
"""

from __future__ import annotations

import pytest

from tests.crawlers.conftest import DAY, PLATFORMS, run_crawls_parallel
from tests.crawlers.test_capture import FIELDS


@pytest.fixture(scope="module")
def hostile_crawls(fixture_world, tmp_path_factory):
    world = fixture_world("hostile")
    jobs, expected = {}, {}
    for platform in PLATFORMS:
        urls, expected[platform] = world.revisit_urls(platform, DAY)
        jobs[platform] = (tmp_path_factory.mktemp(f"hostile7-{platform}"), urls)
    return world, run_crawls_parallel(world, DAY, jobs), expected


def poisoned(world, platform: str, key: str) -> bool:
    return world.world.poison(platform, key, platform == "mercado") is not None  # mercado: JSON poisons


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_platform_is_captured_exactly_under_hostile(hostile_crawls, platform):
    world, results, expected = hostile_crawls
    result = results[platform]
    live = {r["url"]: r for r in world.truth(platform, DAY) if r["status"] == "live"}
    quarantined = {i["url"] for i in result.items if i["type"] == "quarantined"}
    assert all(poisoned(world, platform, live[u]["listing_key"]) for u in quarantined)
    assert set(result.listings) | quarantined == set(live)
    clean = [u for u, r in live.items() if u in result.listings and not poisoned(world, platform, r["listing_key"])]
    assert clean
    mismatches = [
        (url, name, result.listings[url][name], live[url][truth])
        for url in clean
        for name, truth in FIELDS.items()
        if result.listings[url][name] != live[url][truth]
    ]
    assert mismatches == []
    assert {url: item["reason"] for url, item in result.gone.items()} == expected[platform]
    assert result.health["drift_pages"] == 0
