"""Page objects on pages rendered by the fixture world itself (no server, no Scrapy): every
listing of every platform on one day, live ones equal to the truth field by field, removed ones
with the right reason. Also the same pages in their `malformed` fault variant."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from precursor_watch.crawlers.pages import BY_PLATFORM
from precursor_watch.crawlers.pages.base import Incomplete, Listing, Page, Removed
from precursor_watch.crawlers.pages.mercado import api_url
from precursor_watch.fixtures.server import _malformed
from precursor_watch.fixtures.allsites import build_sites
from precursor_watch.fixtures.world import World, WorldConfig
from tests.crawlers.conftest import DAY, PLATFORMS, SCALE, SEED, START, expected_reason


@pytest.fixture(scope="module")
def world():
    config = WorldConfig(seed=SEED, start=START, days=30, scale=SCALE, port=8470, state_dir=Path("/nonexistent"))
    w = World(config)
    return w, build_sites(w)


def fetch(sites, world, platform: str, url: str, day: dt.date, malformed: bool = False) -> Page:
    """What a crawler following redirects would end up with for `url` (at most 3 hops)."""
    site, dayno, chain, requested = sites[platform], world.day(day), [], url
    for _ in range(3):
        parts = urlsplit(url)
        rendered = site.handle(parts.path, parts.query, dayno)
        if malformed and rendered.content_type == "text/html":
            rendered = _malformed(rendered)
        headers = {k.lower(): v for k, v in rendered.headers.items()}
        headers["content-type"] = f"{rendered.content_type}; charset={rendered.charset}"
        if rendered.status in (301, 302) and "location" in headers:
            chain.append((url, rendered.status, headers["location"]))
            url = headers["location"]
            continue
        return Page(url, rendered.status, headers, rendered.body, requested, tuple(chain))
    raise AssertionError(f"too many redirects from {requested}")


@pytest.mark.parametrize("malformed", [False, True], ids=["clean", "malformed"])
@pytest.mark.parametrize("platform", PLATFORMS)
def test_page_objects_read_every_listing_as_the_truth_says(world, platform, malformed):
    w, sites = world
    module = BY_PLATFORM[platform]
    records = [r for r in w.truth(DAY) if r["platform"] == platform]
    assert records
    problems = []
    for record in records:
        url = api_url(record["url"]) if platform == "mercado" else record["url"]
        result = module.ListingPage(fetch(sites, w, platform, url, DAY, malformed)).result()
        if record["status"] == "removed":
            if not (isinstance(result, Removed) and result.reason == expected_reason(record)):
                problems.append((record["url"], expected_reason(record), result))
            continue
        if not isinstance(result, Listing):
            problems.append((record["url"], "live", result))
            continue
        got = (result.listing_key, result.title, result.text, result.price, result.currency, result.seller_key,
               result.seller_name, result.store_key, result.contacts, result.lang)
        want = (record["listing_key"], record["title"], record["text"], record["price"], record["currency"],
                record["account"], record["seller_name"], record["store"], record["contacts"], record["lang"])
        if got != want:
            problems.append((record["url"], want, got))
    assert problems == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_cut_page_is_incomplete_never_removed(world, platform):
    w, sites = world
    module = BY_PLATFORM[platform]
    record = next(r for r in w.truth(DAY) if r["platform"] == platform and r["status"] == "live")
    url = api_url(record["url"]) if platform == "mercado" else record["url"]
    page = fetch(sites, w, platform, url, DAY)
    for cut in (0, len(page.body) // 5):
        result = module.ListingPage(Page(page.url, 200, page.headers, page.body[:cut], page.requested_url)).result()
        assert isinstance(result, Incomplete), (cut, result)


def test_a_transient_503_is_incomplete_but_a_closure_503_is_platform_closed():
    boardlist = BY_PLATFORM["boardlist"]
    url = "http://127.0.0.13:1/ad/BL1"
    body = b'<html><body><div class="platform-closed">This site has been closed</div></body></html>'
    down = Page(url, 503, {"content-type": "text/html"}, b"<h1>Error 503</h1>", url)
    closed = Page(url, 503, {"content-type": "text/html", "x-platform-status": "closed"}, body, url)
    assert isinstance(boardlist.ListingPage(down).result(), Incomplete)
    assert boardlist.ListingPage(closed).result() == Removed("platform_closed", "BL1")


# What each platform's listing pages show besides the text (fixtures/README.md, "Page formats").
EXPECTED_SIGNALS = {
    "chemdir": {"price": True, "add_to_cart": False, "inquiry": True, "seller": True, "schema_offer": False},
    "tradehub": {"price": True, "add_to_cart": True, "inquiry": False, "seller": True, "schema_offer": True},
    "boardlist": {"price": True, "add_to_cart": False, "inquiry": False, "seller": True, "schema_offer": False},
    "huaxue": {"price": True, "add_to_cart": False, "inquiry": True, "seller": True, "schema_offer": False},
    "mercado": {"price": True, "add_to_cart": False, "inquiry": False, "seller": True, "schema_offer": False},
    "sourcing": {"price": True, "add_to_cart": False, "inquiry": True, "seller": True, "schema_offer": False},
    "shopfront": {"price": True, "add_to_cart": True, "inquiry": False, "seller": True, "schema_offer": True},
}


def expected_signals(platform: str, key: str) -> dict[str, bool]:
    expected = dict(EXPECTED_SIGNALS[platform])
    if platform == "shopfront":  # an out-of-stock product has no cart form (fixtures/sites_shopfront.py)
        from precursor_watch.fixtures.hashing import unit
        from precursor_watch.fixtures.sites_shopfront import OUT_OF_STOCK_SHARE

        expected["add_to_cart"] = unit(SEED, "out-of-stock", "shopfront", key) >= OUT_OF_STOCK_SHARE
    return expected


@pytest.mark.parametrize("platform", PLATFORMS)
def test_page_objects_report_the_offer_signals_of_the_page(world, platform):
    w, sites = world
    module = BY_PLATFORM[platform]
    live = [r for r in w.truth(DAY) if r["platform"] == platform and r["status"] != "removed"][:40]
    assert live
    for record in live:
        url = api_url(record["url"]) if platform == "mercado" else record["url"]
        result = module.ListingPage(fetch(sites, w, platform, url, DAY)).result()
        assert isinstance(result, Listing)
        assert result.offer_signals == expected_signals(platform, record["listing_key"]), record["url"]


def test_a_page_without_controls_or_json_ld_reports_none():
    body = b'<html><h1 class="title">t</h1><div class="description">d</div><span class="price">1</span></html>'
    page = BY_PLATFORM["chemdir"].ListingPage(Page("http://x/product/A1.html", 200, {"content-type": "text/html"}, body))
    assert page.offer_signals() == {"price": True, "add_to_cart": False, "inquiry": False, "seller": False,
                                    "schema_offer": False}
