"""The `hostile` profile: traps in the index pages, oversized pages, a charset that lies (huaxue),
plus a redirect loop and an off-site redirect forced on two listing pages.

Checked in the server's own access log: robots.txt-disallowed paths and off-site targets are
never fetched; the loop ends after a few hops; oversized answers are cut, logged and counted;
everything else is still captured exactly.
"""

from __future__ import annotations

import pytest
from warcio.archiveiterator import ArchiveIterator

from precursor_watch.crawlers.settings import PWATCH_PAGE_MAXSIZE, REDIRECT_MAX_TIMES
from precursor_watch.fixtures.faults import JSON_POISONS, UNSTORABLE_POISONS
from tests.crawlers.conftest import DAY, host_of, run_crawls_parallel

DISALLOWED = {"chemdir": "/compare", "huaxue": "/inquiry/"}  # fixtures/README.md, "URL scheme"
LOOP = {"chemdir": 3}  # truth index of the live listing forced into a redirect loop
OFFSITE = {"chemdir": 5, "huaxue": 4}  # ... and of the ones forced to redirect off-site
OVERSIZE = {"chemdir": 7, "huaxue": 8}  # ... and of the ones forced oversized (besides the profile's own)


@pytest.fixture(scope="module")
def hostile(fixture_world, tmp_path_factory):
    world = fixture_world("hostile")
    world.handle.set_date(DAY)
    trapped: dict[str, dict[str, str]] = {}
    jobs = {}
    for platform in DISALLOWED:
        live = [r for r in world.truth(platform, DAY) if r["status"] == "live"]
        trapped[platform] = {}
        if platform in LOOP:
            url = live[LOOP[platform]]["url"]
            world.handle.force_fault(platform, url.split(world.base_url(platform))[1], "redirect_loop", count=100)
            trapped[platform][url] = "redirect_loop"
        url = live[OFFSITE[platform]]["url"]
        world.handle.force_fault(platform, url.split(world.base_url(platform))[1], "offsite", count=100)
        trapped[platform][url] = "offsite_redirect"
        url = live[OVERSIZE[platform]]["url"]
        world.handle.force_fault(platform, url.split(world.base_url(platform))[1], "oversize", count=100)
        urls, _expected = world.revisit_urls(platform, DAY)
        jobs[platform] = (tmp_path_factory.mktemp(f"hostile-{platform}"), urls)
    before = len(world.access_log())
    try:
        results = run_crawls_parallel(world, DAY, jobs)
    finally:
        world.handle.clear_faults()
    log = world.access_log()[before:]
    return world, results, trapped, log


def test_disallowed_paths_and_offsite_targets_are_never_fetched(hostile):
    world, _results, _trapped, log = hostile
    assert log, "the access log shows no request at all"
    trap_host = host_of(world.handle.trap_url)
    assert [r for r in log if r["host"] == trap_host] == []
    for platform, prefix in DISALLOWED.items():
        host = host_of(world.base_url(platform))
        paths = [r["path"] for r in log if r["host"] == host]
        assert "/robots.txt" in paths
        assert [p for p in paths if p.startswith((prefix, "/admin/", "/go/"))] == []


def test_redirect_loop_ends_and_offsite_redirect_is_dropped_as_errors_not_removals(hostile):
    world, results, trapped, log = hostile
    for platform, traps in trapped.items():
        result = results[platform]
        for url, kind in traps.items():
            assert url not in result.gone and url not in result.listings
            assert url in result.health["error_urls"]
            assert result.health["errors"][kind] == 1
        host = host_of(world.base_url(platform))
        for url, kind in traps.items():
            path = url.split(world.base_url(platform))[1]
            fetched = sum(1 for r in log if r["host"] == host and r["path"] == path)
            assert 1 <= fetched <= REDIRECT_MAX_TIMES + 1


def test_everything_else_is_captured_exactly_including_the_misdeclared_charset(hostile):
    world, results, trapped, log = hostile
    for platform, result in results.items():
        live = {r["url"]: r for r in world.truth(platform, DAY) if r["status"] == "live"}
        expected = set(live) - set(trapped[platform])
        assert set(result.listings) == expected
        for url in expected:
            item, record = result.listings[url], live[url]
            if world.world.poison(platform, record["listing_key"]):
                continue  # the page shows a poisoned field (fixtures/README.md, "Poisoned fields")
            assert (item["title"], item["text"], item["contacts"], item["seller_name"]) == (
                record["title"], record["text"], record["contacts"], record["seller_name"])
    huaxue_host = host_of(world.base_url("huaxue"))
    assert any(r["fault"] == "misdeclared" for r in log if r["host"] == huaxue_host)


def test_oversized_answers_are_cut_logged_and_counted(hostile):
    world, results, _trapped, log = hostile
    cut_total = 0
    for platform, result in results.items():
        host = host_of(world.base_url(platform))
        oversized = {r["path"] for r in log if r["host"] == host and r["fault"] == "oversize"}
        assert result.health["faults"].get("oversized", 0) == len(oversized)
        for path in oversized:
            url = world.base_url(platform) + path
            assert f"response cut at" in result.proc.stderr and url in result.proc.stderr
            item = result.listings[url]  # the data precede the padding: still captured
            with open(result.data_dir / item["evidence"]["warc_file"], "rb") as fh:
                for record in ArchiveIterator(fh):
                    if record.rec_headers.get_header("WARC-Record-ID") == item["evidence"]["record_id"]:
                        assert record.rec_headers.get_header("WARC-Truncated") == "length"
                        body = record.content_stream().read()
                        assert PWATCH_PAGE_MAXSIZE < len(body) < 2 * PWATCH_PAGE_MAXSIZE
                        break
                else:
                    pytest.fail(f"no WARC record for {url}")
            cut_total += 1
    assert cut_total >= len(OVERSIZE)


def test_poisoned_fields_are_cleaned_or_quarantined_and_counted_in_health(fixture_world, tmp_path):
    """mercado under `hostile`, stored in a database: every live listing is either stored or
    quarantined (a seller key longer than the key column), each quarantined one is counted in the
    crawl's health by kind and still recorded as a sighting of its URL."""
    import datetime as dt

    from sqlalchemy import select

    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.models import Listing, Observation, Quarantine, Snapshot
    from tests.crawlers.conftest import crawl_command, crawl_env, load_result, ROOT
    import subprocess

    world = fixture_world("hostile")
    day = DAY
    world.handle.set_date(day)
    live = {r["url"]: r for r in world.truth("mercado", day) if r["status"] == "live"}
    kinds = {url: world.world.poison("mercado", r["listing_key"], True) for url, r in live.items()}
    assert set(JSON_POISONS) <= set(kinds.values())  # every kind on the page of at least one live listing
    out = tmp_path / "mercado.jsonl"
    env = {**crawl_env(), "PWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'pwatch.db'}"}
    proc = subprocess.run(crawl_command(world, "mercado", day, tmp_path, out), env=env, capture_output=True, text=True,
                          timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    result = load_result(proc, tmp_path, out, "mercado", day)
    # counted from the fixture side: the live listings whose page shows a value no column holds
    too_long = {url for url, k in kinds.items() if k in UNSTORABLE_POISONS}
    assert too_long
    assert result.health["quarantined"] == {"too_long": len(too_long)}
    assert result.health["quarantine_count"] == len(too_long) > 0
    engine = make_engine(env["PWATCH_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            stored = set(conn.scalars(select(Listing.url)))
            quarantined = dict(conn.execute(select(Quarantine.url, Quarantine.field)).all())
            seen = set(conn.scalars(select(Observation.url).where(Observation.kind == "seen")))
            titles = dict(conn.execute(select(Listing.url, Snapshot.title).join(Snapshot, Snapshot.listing_id == Listing.id)).all())
            texts = dict(conn.execute(select(Listing.url, Snapshot.text).join(Snapshot, Snapshot.listing_id == Listing.id)).all())
    finally:
        engine.dispose()
    assert quarantined == {url: "seller_key" for url in too_long}
    assert stored | set(quarantined) == set(live) and not stored & set(quarantined)
    assert set(live) <= seen  # every live page is a sighting, the quarantined ones included
    for url, kind in kinds.items():
        if kind == "numeric_title":
            assert titles[url].isdigit()
        if kind in ("nul", "lone_surrogate"):
            assert "\x00" not in texts[url] and texts[url].encode("utf-8")
