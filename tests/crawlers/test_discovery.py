"""Search discovery over real HTTP: the fixture world's site searches on all seven platforms, each
read through the search its platform file declares (capped at one result page here, so common
queries hit the cap), the query plan from the lexicon, and conditional revisits (304 = sighting of
the stored snapshot: an observation, no snapshot, the 304 kept as evidence).

Expectations come from the world (`World.search_results`, `World.search_cap`, `World.truth`) and
the plan from the lexicon, never from the crawler's own code.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from precursor_watch.crawlers.platform_file import PACKAGED_DIR
from precursor_watch.fixtures.platforms import BY_NAME
from precursor_watch.fixtures.search import SEMANTICS
from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import World, WorldConfig
from precursor_watch.nlp.lexicon import load_lexicon
from precursor_watch.nlp.search_terms import query_plan
from tests.crawlers.conftest import (
    DAY,
    DAYS,
    PLATFORMS,
    ROOT,
    SEED,
    START,
    FixtureWorld,
    crawl_command,
    crawl_env,
    load_result,
    run_crawls_parallel,
)

SCALE = 2000  # enough listings that a handful of queries match more than one result page


@pytest.fixture(scope="module")
def capped_world(tmp_path_factory):
    config = WorldConfig(
        seed=SEED,
        start=START,
        days=DAYS,
        scale=SCALE,
        search_pages=1,
        port=0,
        state_dir=tmp_path_factory.mktemp("world-capped"),
    )
    handle = serve_in_background(config, DAY)
    yield FixtureWorld(handle, World(handle.config), "none")
    handle.stop()


def expected_search(world: World, platform: str, day: dt.date) -> tuple[dict[str, dict], set[str]]:
    """Per query (plan and refinements of capped ones): total and shown; every listing key shown."""
    dayno, cap = world.day(day), world.search_cap(platform)
    queries: dict[str, dict] = {}
    shown: set[str] = set()
    for planned in query_plan(load_lexicon(), BY_NAME[platform].langs):  # the world's languages
        hits = world.search_results(platform, planned.q, dayno)
        queries[planned.q] = {"total": len(hits), "capped": len(hits) > cap, "refine": list(planned.refine)}
        shown.update(hits[:cap])
        if len(hits) > cap:
            for narrower in planned.refine:
                more = world.search_results(platform, narrower, dayno)
                queries.setdefault(narrower, {"total": len(more), "capped": len(more) > cap, "refine": []})
                shown.update(more[:cap])
    return queries, shown


SEARCHABLE = tuple(p for p in PLATFORMS if p in SEMANTICS)  # the world's platforms with a site search


@pytest.fixture(scope="module")
def search_crawls(capped_world, tmp_path_factory):
    jobs = {p: (tmp_path_factory.mktemp(f"search-{p}"), None) for p in PLATFORMS}
    return run_crawls_parallel(capped_world, DAY, jobs, extra=("--discovery", "search"))


def without_search(text: str) -> str:
    """A platform file's text without its `[discovery.search]` tables."""
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.startswith("[discovery.search")
        if not skipping:
            kept.append(line)
    return "".join(kept)


def test_a_platform_without_site_search_is_walked_whole(capped_world, tmp_path):
    """Search mode on a platform whose file declares no site search falls back to the catalogue
    walk, so every live listing is still captured and the health says which discovery ran."""
    platform = "sourcing"
    files = tmp_path / "platforms"
    files.mkdir()
    text = without_search((PACKAGED_DIR / f"{platform}.toml").read_text(encoding="utf-8"))
    assert "[discovery]" in text and "discovery.search" not in text
    (files / f"{platform}.toml").write_text(text, encoding="utf-8")
    capped_world.handle.set_date(DAY)
    out = tmp_path / f"{platform}.jsonl"
    command = crawl_command(capped_world, platform, DAY, tmp_path, out, extra=("--no-db", "--discovery", "search"))
    env = crawl_env() | {"PWATCH_PLATFORM_FILES_DIR": str(files)}
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "has no site search" in proc.stderr
    result = load_result(proc, tmp_path, out, platform, DAY)
    live = {r["url"] for r in capped_world.truth(platform, DAY) if r["status"] == "live"}
    assert result.health["discovery"]["mode"] == "full"
    assert {i["url"] for i in result.items if i.get("url") in live} == live


@pytest.mark.parametrize("platform", SEARCHABLE)
def test_search_crawl_fetches_exactly_what_the_queries_show(capped_world, search_crawls, platform):
    world, result = capped_world.world, search_crawls[platform]
    queries, shown = expected_search(world, platform, DAY)
    by_key = {r["listing_key"]: r for r in capped_world.truth(platform, DAY)}
    expected_urls = {by_key[k]["url"] for k in shown}
    crawled = {i["url"] for i in result.items}
    assert crawled == expected_urls, (sorted(crawled - expected_urls)[:5], sorted(expected_urls - crawled)[:5])
    truth = {by_key[k]["url"]: by_key[k] for k in shown}
    for item in result.items:  # captured as the truth has them
        assert item["type"] == "listing", item
        want = truth[item["url"]]
        assert (item["listing_key"], item["title"], item["text"]) == (want["listing_key"], want["title"], want["text"])
    plan = {q["q"]: q for q in result.health["discovery"]["plan"]}
    assert set(plan) == set(queries)
    cap = world.search_cap(platform)
    for q, want in queries.items():
        got = plan[q]
        assert got["results"] == min(want["total"], cap), q
        assert got["capped"] == want["capped"], q
        if want["capped"] and got["refined_from"] is None:
            assert got["refined_into"] == want["refine"], q  # the capped query was refined, and says so
    assert result.health["pages"] >= len(queries) + len(crawled)
    assert result.health["items"] == len(result.items)


def test_some_queries_hit_the_cap_and_are_refined(search_crawls):
    """The world is built so the cap bites: the health counts capped and refined queries."""
    searched = [search_crawls[p] for p in SEARCHABLE]
    capped = sum(r.health["discovery"]["capped"] for r in searched)
    refined = sum(r.health["discovery"]["refined"] for r in searched)
    assert capped >= 3 and refined >= capped


def _track_all(engine, day: dt.date) -> None:
    """Every stored listing becomes tracked (its detection names a substance), as the detector
    makes the world's offers: search mode revisits tracked listings only."""
    from precursor_watch.storage.detections import pending_snapshots, record_detections

    with Session(engine) as session, session.begin():
        pending = pending_snapshots(session, "test-tracked")
        hit = {
            "flagged": False,
            "score": 0.5,
            "substances": ["79099-07-3"],
            "reasons": [],
            "model_version": "test-tracked",
        }
        record_detections(session, [(p.id, hit) for p in pending], day=day)


def _crawl_db(world: FixtureWorld, platform: str, day: dt.date, data_dir: Path, discovery: str):
    world.handle.set_date(day)
    out = data_dir / f"{platform}-{day}.jsonl"
    command = crawl_command(world, platform, day, data_dir, out, extra=("--discovery", discovery))
    proc = subprocess.run(command, env=crawl_env(), capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return load_result(proc, data_dir, out, platform, day)


@pytest.mark.parametrize("platform", ["chemdir", "mercado"])
def test_304_is_a_sighting_without_a_snapshot_and_keeps_its_evidence(capped_world, tmp_path, platform):
    from precursor_watch.crawlers.warc import iter_records
    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.models import CrawlRun, Listing, Observation, Snapshot

    first_day, day = DAY - dt.timedelta(days=1), DAY
    _crawl_db(capped_world, platform, first_day, tmp_path, "full")
    engine = make_engine(f"sqlite:///{tmp_path / 'pwatch.db'}")
    _track_all(engine, first_day)
    with Session(engine) as session:
        snapshots_before = {lid: n for lid, n in session.execute(select(Snapshot.listing_id, Snapshot.id))}
        stored = {url: sha for url, sha in session.execute(select(Listing.url, Listing.content_sha256))}
    second = _crawl_db(capped_world, platform, day, tmp_path, "search")
    truth_then = {r["url"]: r for r in capped_world.truth(platform, first_day)}
    truth_now = {r["url"]: r for r in capped_world.truth(platform, day)}
    unchanged = {
        url
        for url, r in truth_now.items()
        if url in stored
        and r["status"] == "live"
        and truth_then[url]["status"] == "live"
        and (r["title"], r["text"]) == (truth_then[url]["title"], truth_then[url]["text"])
        and r["reappeared_on"] == truth_then[url]["reappeared_on"]
    }
    assert len(unchanged) > 20
    with Session(engine) as session:
        run = session.scalars(select(CrawlRun).where(CrawlRun.crawl_date == day)).one()
        assert run.healthy and run.discovery["mode"] == "search"
        rows = session.execute(
            select(Observation, Listing.content_sha256)
            .join(Listing, Listing.id == Observation.listing_id)
            .where(Observation.crawl_run_id == run.id, Observation.http_status == 304)
        ).all()
        answered = {obs.url for obs, _ in rows}
        assert answered == unchanged  # every unchanged tracked listing, and nothing else, answered 304
        for obs, sha in rows:
            assert obs.kind == "seen" and obs.content_sha256 == sha == stored[obs.url]
        new_snapshots = session.scalars(select(Snapshot.listing_id).where(Snapshot.seen_on == day)).all()
        assert not {lid for lid in new_snapshots} & {obs.listing_id for obs, _ in rows}
        assert all(lid in snapshots_before for lid in {obs.listing_id for obs, _ in rows})
        records = {}
        for path in (tmp_path / "evidence" / platform / day.isoformat()).glob("*.warc.gz"):
            records.update({r.record_id: r for r in iter_records(path)})
        for obs, _ in rows:
            record = records[obs.evidence_record]
            assert record.status == 304 and record.payload == b""
    assert second.health["item_counts"]["unchanged"] == len(unchanged)


def _served_etag(world: FixtureWorld, platform: str, url: str, key: str, day: dt.date) -> str:
    """The ETag the platform sends for a live listing on `day`, asked directly over HTTP."""
    import http.client
    from urllib.parse import urlsplit

    world.handle.set_date(day)
    fetched = urlsplit(world.handle.base_urls[platform] + f"/api/articulos/{key}" if platform == "mercado" else url)
    conn = http.client.HTTPConnection(fetched.hostname, fetched.port, timeout=10)
    try:
        conn.request("GET", fetched.path)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, (url, resp.status)
        return resp.getheader("ETag") or ""
    finally:
        conn.close()


@pytest.mark.parametrize("platform", ["chemdir", "mercado"])
def test_revisits_send_the_stored_etag_and_store_the_new_one(capped_world, tmp_path, platform):
    """The ETag of each listing's last live 200 is stored and sent back as `If-None-Match`: the
    platform answers 304 to an unchanged listing (an observation, no snapshot, the 304 archived),
    200 to one it edited (a new snapshot, and the new ETag stored), and 200 to one whose stored
    ETag is not its current one, although `If-Modified-Since` alone would have got a 304."""
    from email.utils import format_datetime

    from precursor_watch.crawlers.warc import iter_records
    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.models import CrawlRun, Listing, Observation, Snapshot

    first_day, day = DAY - dt.timedelta(days=1), DAY
    _crawl_db(capped_world, platform, first_day, tmp_path, "full")
    engine = make_engine(f"sqlite:///{tmp_path / 'pwatch.db'}")
    _track_all(engine, first_day)
    truth_then = {r["url"]: r for r in capped_world.truth(platform, first_day)}
    truth_now = {r["url"]: r for r in capped_world.truth(platform, day)}
    with Session(engine) as session:
        stored = {u: (k, e) for u, k, e in session.execute(select(Listing.url, Listing.listing_key, Listing.etag))}
    live_both = {
        u
        for u, r in truth_now.items()
        if u in stored
        and r["status"] == "live"
        and truth_then[u]["status"] == "live"
        and r["reappeared_on"] == truth_then[u]["reappeared_on"]
    }
    edited = {u for u in live_both if truth_now[u]["text"] != truth_then[u]["text"]}
    unchanged = live_both - edited
    assert edited and len(unchanged) > 20
    for u in sorted(edited)[:3] + sorted(unchanged)[:3]:  # the stored ETag is the one the platform sent
        assert stored[u][1] == _served_etag(capped_world, platform, u, stored[u][0], first_day), u
    # one unchanged listing whose stored ETag is stale: If-None-Match must decide, not the date
    stale = sorted(unchanged)[0]
    with Session(engine) as session, session.begin():
        session.execute(update(Listing).where(Listing.url == stale).values(etag='"stale-fake-etag"'))
    since = format_datetime(dt.datetime.combine(first_day, dt.time(23, 59, 59), tzinfo=dt.UTC), usegmt=True)
    assert _status_with(capped_world, platform, stale, stored[stale][0], day, {"If-Modified-Since": since}) == 304

    second = _crawl_db(capped_world, platform, day, tmp_path, "search")
    revisit = (tmp_path / "jobs" / platform / day.isoformat() / "revisit.txt").read_text(encoding="utf-8")
    sent = {line.split("\t")[0]: line.split("\t")[2] for line in revisit.splitlines() if line.count("\t") == 2}
    assert sent[stale] == '"stale-fake-etag"'
    assert all(sent[u] == stored[u][1] for u in live_both - {stale})
    with Session(engine) as session:
        run = session.scalars(select(CrawlRun).where(CrawlRun.crawl_date == day)).one()
        status = {
            u: code
            for u, code in session.execute(
                select(Observation.url, Observation.http_status).where(Observation.crawl_run_id == run.id)
            )
        }
        assert {u for u in live_both if status.get(u) == 304} == unchanged - {stale}
        assert status[stale] == 200 and all(status[u] == 200 for u in edited)
        snapshots = {
            u
            for (u,) in session.execute(
                select(Listing.url).join(Snapshot, Snapshot.listing_id == Listing.id).where(Snapshot.seen_on == day)
            )
        }
        assert snapshots & live_both == edited  # the stale-ETag listing's 200 has the stored content
        now = {u: e for u, e in session.execute(select(Listing.url, Listing.etag))}
        for u in edited | {stale}:
            assert now[u] == _served_etag(capped_world, platform, u, stored[u][0], day), u
        assert all(now[u] != stored[u][1] for u in edited)
        cited = session.scalars(
            select(Observation.evidence_record).where(
                Observation.crawl_run_id == run.id, Observation.http_status == 304
            )
        ).all()
    records = {}
    for path in (tmp_path / "evidence" / platform / day.isoformat()).glob("*.warc.gz"):
        records.update({r.record_id: r for r in iter_records(path)})
    assert cited and all(records[c].status == 304 for c in cited)
    assert second.health["item_counts"]["unchanged"] == len(unchanged) - 1


def _status_with(world: FixtureWorld, platform: str, url: str, key: str, day: dt.date, headers: dict) -> int:
    import http.client
    from urllib.parse import urlsplit

    world.handle.set_date(day)
    fetched = urlsplit(world.handle.base_urls[platform] + f"/api/articulos/{key}" if platform == "mercado" else url)
    conn = http.client.HTTPConnection(fetched.hostname, fetched.port, timeout=10)
    try:
        conn.request("GET", fetched.path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


@pytest.mark.parametrize("platform", ["chemdir", "mercado"])
def test_search_crawl_revisits_tracked_listings_only_and_never_removes_the_others(capped_world, tmp_path, platform):
    """After a full crawl, listings whose detection names no substance (ordinary products) are not
    on a search crawl's revisit list; those search does not find either go unfetched, and
    reconcile (even with absence_k 1) leaves them active, while the tracked listings the world
    removed are observed removed that day."""
    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.models import CrawlRun, Detection, Listing, Observation, Snapshot
    from precursor_watch.storage.reconcile import reconcile_date

    first_day, day = DAY - dt.timedelta(days=1), DAY
    _crawl_db(capped_world, platform, first_day, tmp_path, "full")
    engine = make_engine(f"sqlite:///{tmp_path / 'pwatch.db'}")
    _track_all(engine, first_day)
    truth_now = {r["url"]: r for r in capped_world.truth(platform, day)}
    _, shown = expected_search(capped_world.world, platform, day)
    with Session(engine) as session, session.begin():
        stored = {u: k for u, k in session.execute(select(Listing.url, Listing.listing_key))}
        quiet = sorted(u for u, k in stored.items() if truth_now[u]["status"] == "live" and k not in shown)[:5]
        removed = {u for u in stored if truth_now[u]["status"] == "removed"} - set(quiet)
        assert len(quiet) == 5 and removed
        untrack = select(Snapshot.id).join(Listing, Listing.id == Snapshot.listing_id).where(Listing.url.in_(quiet))
        session.execute(update(Detection).where(Detection.snapshot_id.in_(untrack)).values(substances=[]))

    _crawl_db(capped_world, platform, day, tmp_path, "search")
    revisit = (tmp_path / "jobs" / platform / day.isoformat() / "revisit.txt").read_text(encoding="utf-8")
    sent = {line.split("\t")[0] for line in revisit.splitlines()}
    assert sent == set(stored) - set(quiet)
    with Session(engine) as session, session.begin():
        run = session.scalars(select(CrawlRun).where(CrawlRun.crawl_date == day)).one()
        assert set(run.discovery["revisit_keys"]) == {stored[u] for u in sent}
        fetched = set(session.scalars(select(Observation.url).where(Observation.crawl_run_id == run.id)))
        assert not fetched & set(quiet)
        reconcile_date(session, day, absence_k=1)
        presence = {u: p for u, p in session.execute(select(Listing.url, Listing.presence))}
    assert all(presence[u] == "active" for u in quiet)
    assert {u for u, p in presence.items() if p == "removed"} == removed
