"""Under `hostile`, some live listings answer 301/302 to the same path with `?via=moved`, which
serves the live page (fixtures/README.md, "Faults"). Crawled for real, each is tracked as live
under its own URL, and its evidence is the final page: a WARC response record whose target URI is
the final URL and whose payload hashes to the item's sha256 (never the empty hop body). The hop
itself is archived too. A removal redirect (huaxue) still cites its first hop.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from precursor_watch.fixtures.faults import MOVED_QUERY
from tests.crawlers.conftest import DAY, host_of, run_crawls_parallel

EMPTY_SHA = hashlib.sha256(b"").hexdigest()
PLATFORMS = ("tradehub", "huaxue", "mercado")  # between them: 301s, 302s, HTML, JSON and GB18030


@pytest.fixture(scope="module")
def moved(fixture_world, tmp_path_factory):
    world = fixture_world("hostile")
    jobs = {p: (tmp_path_factory.mktemp(f"moved-{p}"), world.revisit_urls(p, DAY)[0]) for p in PLATFORMS}
    before = len(world.access_log())
    results = run_crawls_parallel(world, DAY, jobs)
    log = world.access_log()[before:]
    return world, results, log


def records(data_dir: Path) -> list[tuple[str, str, str, int, bytes]]:
    """(file, record id, target URI, HTTP status, payload) of every response record of a crawl."""
    out = []
    for path in sorted((data_dir / "evidence").rglob("*.warc.gz")):
        with open(path, "rb") as fh:
            for r in ArchiveIterator(fh):
                if r.rec_type == "response":
                    out.append((path.relative_to(data_dir).as_posix(), r.rec_headers.get_header("WARC-Record-ID"),
                                r.rec_headers.get_header("WARC-Target-URI"), int(r.http_headers.get_statuscode()),
                                r.content_stream().read()))
    return out


def test_listings_behind_a_same_origin_redirect_are_live_and_cite_the_final_page(moved):
    world, results, log = moved
    statuses = set()
    for platform in PLATFORMS:
        result = results[platform]
        host = host_of(world.base_url(platform))
        hops = {world.base_url(platform) + r["path"]: r["status"] for r in log if r["host"] == host and r["fault"] == "moved"}
        assert hops, f"the hostile profile moved no listing on {platform}"
        statuses |= set(hops.values())
        truth = {r["listing_key"]: r for r in world.truth(platform, DAY) if r["status"] == "live"}
        by_id = {rec[1]: rec for rec in records(result.data_dir)}
        for hop_url, status in hops.items():
            _platform, key = world.world.parse_listing_url(hop_url)
            item = result.listings[truth[key]["url"]]  # tracked live, under its own URL
            assert item["title"] == truth[key]["title"]
            evidence = item["evidence"]
            assert evidence["sha256"] != EMPTY_SHA
            warc_file, record_id, target, http_status, payload = by_id[evidence["record_id"]]
            assert warc_file == evidence["warc_file"]
            assert target == evidence["target_uri"] == f"{hop_url}?{MOVED_QUERY}"
            assert http_status == 200 and hashlib.sha256(payload).hexdigest() == evidence["sha256"]
            # the hop is archived, but not cited
            assert any(rec[2] == hop_url and rec[3] == status and rec[4] == b"" for rec in by_id.values())
    assert statuses == {301, 302}
    assert set(results["tradehub"].listings) == {r["url"] for r in world.truth("tradehub", DAY) if r["status"] == "live"}


def test_a_removal_redirect_still_cites_its_first_hop(moved):
    world, results, _log = moved
    result = results["huaxue"]
    by_id = {rec[1]: rec for rec in records(result.data_dir)}
    redirected = [g for g in result.gone.values() if g["reason"] == "redirected"]
    assert redirected
    for gone in redirected:
        _file, _rid, target, status, _payload = by_id[gone["evidence"]["record_id"]]
        assert target == gone["url"] == gone["evidence"]["target_uri"] and status == 302
