"""Every platform, crawled under the `flaky` fault profile (5xx, 429 with Retry-After, slow,
truncated and malformed pages), against the truth of the day:

- every live listing captured, with title, text, price, seller/account, store and contacts equal
  to the truth (linked ones through the index, unlinked ones through the sitemap);
- every removed listing, closed account and closed store in the revisit list gives a GoneItem
  with the right reason, and nothing else does (no false GoneItem);
- the health stats count the faults the server injected, and no page ends as a crawl error;
- every item's WARC record opens with warcio and its SHA-256 equals the item's.
"""

from __future__ import annotations

import hashlib

import pytest
from warcio.archiveiterator import ArchiveIterator

from precursor_watch.contract import Evidence
from precursor_watch.crawlers.warc import read_evidence
from tests.crawlers.conftest import DAY, PLATFORMS

FIELDS = {  # item field -> truth field
    "title": "title",
    "text": "text",
    "price": "price",
    "currency": "currency",
    "seller_key": "account",
    "seller_name": "seller_name",
    "store_key": "store",
    "contacts": "contacts",
    "lang": "lang",
    "listing_key": "listing_key",
}


@pytest.fixture
def flaky_crawl(flaky_crawls):
    """flaky_crawl(platform) -> (world, CrawlResult, expected gone reasons by URL)."""
    world, results, expected = flaky_crawls
    return lambda platform: (world, results[platform], expected[platform])


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_live_listing_is_captured_with_the_truth_fields(flaky_crawl, platform):
    world, result, _expected = flaky_crawl(platform)
    live = {r["url"]: r for r in world.truth(platform, DAY) if r["status"] == "live"}
    assert live, "the test world has no live listings on this platform"
    assert set(result.listings) == set(live)
    mismatches = [
        (url, item_field, result.listings[url][item_field], record[truth_field])
        for url, record in live.items()
        for item_field, truth_field in FIELDS.items()
        if result.listings[url][item_field] != record[truth_field]
    ]
    assert mismatches == []
    assert all(result.listings[u]["posted_at"] == (r["reappeared_on"] or r["appeared_on"]) for u, r in live.items())


@pytest.mark.parametrize("platform", PLATFORMS)
def test_removed_listings_and_closed_accounts_give_gone_items_with_the_right_reason(flaky_crawl, platform):
    _world, result, expected = flaky_crawl(platform)
    assert expected, "the test world should hold removals on this platform"
    got = {url: item["reason"] for url, item in result.gone.items()}
    assert got == expected  # every expected one with its reason, and no false GoneItem
    assert all(item["http_status"] for item in result.gone.values())


@pytest.mark.parametrize("platform", PLATFORMS)
def test_faults_are_counted_and_none_becomes_an_error(flaky_crawl, platform):
    _world, result, _expected = flaky_crawl(platform)
    injected = [r["fault"] for r in result.server_log if r["fault"]]
    server_5xx = sum(f in ("500", "502", "503") for f in injected)
    assert server_5xx > 0, "the flaky profile injected no 5xx on this platform"
    faults = result.health["faults"]
    assert faults.get("http_5xx", 0) == server_5xx
    assert faults.get("http_429", 0) == injected.count("429")
    # A body cut short against its Content-Length: Twisted reports data loss (or a lost connection).
    assert faults.get("truncated", 0) + faults.get("connection", 0) == injected.count("truncate")
    assert faults.get("slow", 0) >= injected.count("slow")  # a loaded machine adds slow answers
    assert faults.get("malformed_html", 0) > 0 if "malformed" in injected else True
    assert result.health["errors"] == {} and result.health["error_rate"] == 0.0
    assert result.health["retries"] >= server_5xx + injected.count("429") + injected.count("truncate")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_warc_records_hold_the_exact_bytes_of_every_item(flaky_crawl, platform):
    _world, result, _expected = flaky_crawl(platform)
    items = list(result.listings.values()) + list(result.gone.values())
    by_file: dict[str, dict[str, str]] = {}
    for item in items:
        ev = Evidence(**item["evidence"])
        payload = read_evidence(result.data_dir, ev)
        assert hashlib.sha256(payload).hexdigest() == ev.sha256, item["url"]
        by_file.setdefault(ev.warc_file, {})[ev.record_id] = ev.sha256
    # And independently of our reader: warcio opens each file, the digests match.
    for warc_file, records in by_file.items():
        seen = {}
        with open(result.data_dir / warc_file, "rb") as fh:
            for record in ArchiveIterator(fh):
                rid = record.rec_headers.get_header("WARC-Record-ID")
                if rid in records:
                    body = record.content_stream().read()
                    seen[rid] = hashlib.sha256(body).hexdigest()
                    assert record.rec_headers.get_header("WARC-Payload-Digest") == f"sha256:{seen[rid]}"
        assert seen == records
