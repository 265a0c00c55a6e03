"""Thirty days of the real daily cycle against the fixture world's `hostile` fault profile, on
SQLite and on PostgreSQL: Scrapy over loopback HTTP → storage → detection → reconcile → notices.

The world poisons listing fields, serves a 1,000,500-character listing, redirects live listings
on the same origin, and answers notices with over-long tickets, huge bodies and drip feeds. The
independent side is the world itself: `World.truth(day)` (what is live) and `World.poison(...)`
(which page carries which poison). The pipeline must conclude no removal of a live listing,
observe every removal and reappearance on the day the truth has it, and account for every
poisoned page: stored cleaned, or quarantined with a row naming it; never silently lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from precursor_watch import steps
from precursor_watch.fixtures.faults import MOVED_QUERY, UNSTORABLE_POISONS, moved_status
from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import World, WorldConfig
from precursor_watch.nlp.detector import Detector
from precursor_watch.settings import Settings, load_settings
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.models import CrawlRun, Event, Listing, Notice, Platform, Quarantine, Snapshot
from tests.storage.conftest import PG_BASE, pg_url_with_schema

pytestmark = pytest.mark.slow

START = dt.date(2026, 11, 1)
DAYS = 30
# 20 slots per platform keep the replay small; with this seed every poison kind, moved
# (same-origin redirected) listings on both platforms and reappearances all occur
SEED, SCALE = 3, 100
# 404 pages and the JSON API (every JSON poison); both remove explicitly, so the truth's removal
# day is the day the pipeline must observe it (no K-day verification delay).
PLATFORMS = ("chemdir", "mercado")
JSON_PAGES = {"mercado"}
EMPTY_BODY = hashlib.sha256(b"").hexdigest()
# Hostile notice answers, forced (the world's control API) so each kind is met whatever the
# seed's hash draw: {day index: [(platform, fault), ...]}; each waits for that platform's next notice.
NOTICE_FAULTS = {0: [("chemdir", "drip"), ("mercado", "huge_answer")], 2: [("chemdir", "long_ticket"), ("mercado", "drip")]}


@dataclass
class HostileRun:
    settings: Settings
    world: World
    truth: dict[dt.date, dict[str, dict]] = field(default_factory=dict)
    presence: dict[dt.date, dict[str, str]] = field(default_factory=dict)  # after each day's cycle
    last_seen: dict[dt.date, dict[str, dt.date]] = field(default_factory=dict)
    state_dir: Path | None = None  # the world's notices.jsonl and access.log


def _replay(data, database_url: str, trained_model) -> HostileRun:
    config = WorldConfig(seed=SEED, start=START, days=DAYS, scale=SCALE, faults="hostile", port=0,
                         state_dir=data / "fixtures")
    with serve_in_background(config, START) as server:
        settings = load_settings(
            data_dir=str(data), environ={}, seed=str(SEED), scale=str(SCALE), world_start=START.isoformat(),
            world_days=str(DAYS), fixture_port=str(server.config.port), platforms=",".join(PLATFORMS),
            faults="hostile", auto_confirm="true", model_dir=str(trained_model), database_url=database_url,
            notice_deadline_seconds="1.5",  # drip answers (a byte every 3 s) fail fast and are re-sent
        )
        run = HostileRun(settings, World(server.config), state_dir=config.state_dir)
        detector = Detector.load(trained_model)  # loaded once, not once per day
        engine = make_engine(settings.db_url)
        try:
            for n in range(DAYS):
                day = START + dt.timedelta(days=n)
                for platform, fault in NOTICE_FAULTS.get(n, []):
                    server.force_fault(platform, "/notices", fault)
                result = steps.run_day(settings, day, detector)
                assert result["failed"] == {}, (day, result["failed"])
                run.truth[day] = {r["url"]: r for r in run.world.truth(day) if r["platform"] in PLATFORMS}
                with Session(engine) as s:
                    rows = s.execute(select(Listing.url, Listing.presence, Listing.last_seen_on)).all()
                run.presence[day] = {u: p for u, p, _ in rows}
                run.last_seen[day] = {u: seen for u, _, seen in rows}
        finally:
            engine.dispose()
    return run


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hostile(request, tmp_path_factory, trained_model):
    data = tmp_path_factory.mktemp(f"hostile-{request.param}")
    if request.param == "sqlite":
        yield _replay(data, "", trained_model)
        return
    schema = f"pw_hostile_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _replay(data, pg_url_with_schema(schema), trained_model)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _session(run: HostileRun) -> Session:
    return Session(make_engine(run.settings.db_url))


def _events(run: HostileRun, kind: str) -> list[tuple[str, dt.date, str | None]]:
    with _session(run) as s:
        try:
            return s.execute(select(Listing.url, Event.occurred_on, Event.cause)
                             .join(Listing, Listing.id == Event.listing_id).where(Event.kind == kind)).all()
        finally:
            s.bind.dispose()


def test_no_live_listing_is_ever_concluded_removed(hostile):
    for day, presence in hostile.presence.items():
        false = sorted(u for u, p in presence.items() if p == "removed" and hostile.truth[day][u]["status"] == "live")
        assert not false, f"{day}: live in the truth, removed for us: {false}"
    for url, on, cause in _events(hostile, "removal_observed"):
        assert hostile.truth[on][url]["status"] == "removed", (url, on, cause)


def test_statuses_equal_the_truth_every_day(hostile):
    """Every listing we have seen is `active` exactly when the truth has it live, every day."""
    seen_ever: set[str] = set()
    for day, presence in hostile.presence.items():
        seen_ever |= set(presence)
        truth = hostile.truth[day]
        want = {u: ("active" if truth[u]["status"] == "live" else "removed") for u in seen_ever}
        differ = {u: (presence[u], truth[u]["status"], truth[u]["removed_on"]) for u in want if presence[u] != want[u]}
        assert not differ, f"{day}: {differ}"
        live = {u for u, r in truth.items() if r["status"] == "live"}
        # every live listing was seen today: its page (poisoned or not) fetched live, or its item
        # unstorable and therefore never a listing of ours (checked against quarantine below)
        stale = {u for u in live & set(presence) if hostile.last_seen[day][u] != day}
        assert not stale, f"{day}: live listings not seen today: {stale}"
        never_stored = {u: _poison_of(hostile, truth[u]) for u in live - set(presence)}
        assert all(kind in UNSTORABLE_POISONS for kind in never_stored.values()), f"{day}: {never_stored}"


def test_removals_and_reappearances_on_the_truth_days(hostile):
    """Both platforms remove explicitly (404 page, 404 JSON): a removal is observed on the day the
    truth has it, and only then; a reappearance likewise. Together with the daily statuses above,
    nothing the truth did to a listing we had seen goes unobserved."""
    removals = _events(hostile, "removal_observed")
    reappearances = _events(hostile, "reappeared")
    assert removals, "the hostile world removed nothing we saw"
    for url, on, cause in removals:
        assert hostile.truth[on][url]["removed_on"] == on.isoformat(), (url, on, cause)
    observed = {(u, on) for u, on, _ in removals}
    first_seen: dict[str, dt.date] = {}
    for day, presence in hostile.presence.items():
        for url in presence:
            first_seen.setdefault(url, day)
    for day, truth in hostile.truth.items():
        for url, r in truth.items():
            if r["removed_on"] == day.isoformat() and url in first_seen and first_seen[url] < day:
                assert (url, day) in observed, (url, day, r["removal_cause"])
    for url, on, _cause in reappearances:
        assert hostile.truth[on][url]["reappeared_on"] == on.isoformat(), (url, on)


def test_the_giant_listing_is_stored_whole_and_scored(hostile):
    """The 1,000,500-character listing of each platform: stored in full, scored in windows, no
    detection failure."""
    from precursor_watch.storage.models import Detection, DetectionFailure

    with _session(hostile) as s:
        try:
            giants = s.execute(select(Listing.url, Snapshot.id, func.length(Snapshot.text))
                               .join(Snapshot, Snapshot.listing_id == Listing.id)
                               .where(func.length(Snapshot.text) > 1_000_000)).all()
            scored = set(s.scalars(select(Detection.snapshot_id)))
            failures = s.execute(select(DetectionFailure.snapshot_id, DetectionFailure.reason)).all()
        finally:
            s.bind.dispose()
    assert {hostile.truth[START][url]["platform"] for url, _, _ in giants} == set(PLATFORMS)
    for url, snap_id, length in giants:
        assert length == len(hostile.truth[START][url]["text"]), url
        assert snap_id in scored, url
    assert failures == []


def _poison_of(run: HostileRun, record: dict) -> str | None:
    return run.world.poison(record["platform"], record["listing_key"], record["platform"] in JSON_PAGES)


def _poisoned_live(run: HostileRun) -> dict[tuple[str, dt.date], tuple[str, str]]:
    """(url, day) → (listing key, poison) for every live poisoned page of every day."""
    out = {}
    for day, truth in run.truth.items():
        for url, r in truth.items():
            kind = _poison_of(run, r)
            if kind and r["status"] == "live":
                out[(url, day)] = (r["listing_key"], kind)
    return out


def _quarantine(run: HostileRun) -> list[tuple[str, str | None, dt.date, str, str | None]]:
    with _session(run) as s:
        try:
            return s.execute(select(Platform.name, Quarantine.listing_key, CrawlRun.crawl_date, Quarantine.kind,
                                    Quarantine.field, Quarantine.url)
                             .join(CrawlRun, CrawlRun.id == Quarantine.crawl_run_id)
                             .join(Platform, Platform.id == Quarantine.platform_id)).all()
        finally:
            s.bind.dispose()


def test_every_quarantined_item_is_a_poison_the_world_injected(hostile):
    poisoned = {(r_key, day): kind for (url, day), (r_key, kind) in _poisoned_live(hostile).items()}
    rows = _quarantine(hostile)
    assert rows, "the hostile world's unstorable poison was never quarantined"
    for platform, key, day, kind, fld, url in rows:
        assert (key, day) in poisoned, (platform, key, day, kind, fld, url)
        if poisoned[(key, day)] == "long_seller_key":
            assert (kind, fld) == ("too_long", "seller_key"), (platform, key, day, kind, fld)


def test_every_injected_poison_is_quarantined_or_stored_clean(hostile):
    poisoned = _poisoned_live(hostile)
    kinds = {kind for _key, kind in poisoned.values()}
    assert {"numeric_title", "nul", "lone_surrogate", "long_seller_key", "long_lang", "long_seller_name"} <= kinds
    quarantined = {(key, day) for _p, key, day, *_ in _quarantine(hostile)}
    with _session(hostile) as s:
        try:
            latest = {
                url: snap for url, snap in s.execute(
                    select(Listing.url, Snapshot).join(Snapshot, Snapshot.listing_id == Listing.id)
                    .order_by(Snapshot.id)).all()
            }
        finally:
            s.bind.dispose()
    for (url, day), (key, kind) in sorted(poisoned.items()):
        if kind in UNSTORABLE_POISONS:
            assert (key, day) in quarantined, (url, day, kind)
            assert url not in hostile.presence[day], (url, day, kind)
            continue
        assert (key, day) not in quarantined, (url, day, kind)
        assert hostile.last_seen[day][url] == day, (url, day, kind)  # stored: seen that day
        snap = latest[url]
        assert "\x00" not in snap.text and not any(0xD800 <= ord(c) <= 0xDFFF for c in snap.text), (url, kind)
        if kind == "numeric_title":
            assert isinstance(snap.title, str) and snap.title.isdigit(), (url, snap.title)
        if kind == "long_lang":
            assert snap.lang in ("en-GB-oxendict", "zh-Hans-CN"), (url, snap.lang)


def test_moved_listings_cite_their_final_page(hostile):
    """A live listing reached through a same-origin redirect cites the page it was redirected to,
    never the redirect hop's empty body."""
    moved = {url for truth in hostile.truth.values() for url, r in truth.items()
             if r["status"] == "live" and moved_status(hostile.world.profile, SEED, hostile.world.host(r["platform"]), r["listing_key"])}
    assert {hostile.truth[START + dt.timedelta(days=DAYS - 1)][u]["platform"] for u in moved} == set(PLATFORMS)
    with _session(hostile) as s:
        try:
            cited = s.execute(select(Listing.url, Snapshot.evidence_uri, Snapshot.evidence_sha256)
                              .join(Snapshot, Snapshot.listing_id == Listing.id).where(Listing.url.in_(moved))).all()
        finally:
            s.bind.dispose()
    assert {u for u, _, _ in cited} == moved
    for url, uri, sha in cited:
        assert uri and uri.endswith("?" + MOVED_QUERY) and sha != EMPTY_BODY, (url, uri, sha)


def test_every_notice_the_platforms_hold_is_recorded_once_with_its_ticket(hostile):
    """Drip, huge and long-ticket answers fail only their own notice, which is re-sent with the
    same key and then holds the ticket the platform recorded; no notice is lost or doubled."""
    access = [json.loads(line) for line in (hostile.state_dir / "access.log").read_text().splitlines() if line]
    given = {(a["host"], a["fault"]) for a in access if a["path"] == "/notices" and a["fault"]}
    assert {fault for _host, fault in given} == {"drip", "huge_answer", "long_ticket"}
    held = [json.loads(line) for line in (hostile.state_dir / "notices.jsonl").read_text().splitlines() if line]
    with _session(hostile) as s:
        try:
            ours = {key: (ticket, status) for key, ticket, status in s.execute(select(Notice.idempotency_key, Notice.ticket, Notice.status))}
        finally:
            s.bind.dispose()
    assert len(held) == len({n["idempotency_key"] for n in held}) == len(ours)
    last = (START + dt.timedelta(days=DAYS - 1)).isoformat()
    for notice in held:
        ticket, status = ours[notice["idempotency_key"]]
        if notice["received_on"] == last and status == "failed":
            continue  # a hostile answer on the last day: re-sent (and its ticket learnt) by the next run
        assert (ticket, status) == (notice["ticket"], "sent"), notice["idempotency_key"]


def test_the_untouched_data_dir_verifies_clean_after_the_replay_a_rerun_and_migrations(hostile, capsys):
    """`pwatch audit verify` over the whole replay: 30 signed heads, every event recomputed, every
    cited WARC record re-read (by its stored offset), after the last day is sealed again and the
    migrations are run again over the same database."""
    from precursor_watch.cli import main
    from precursor_watch.storage.db import upgrade
    from precursor_watch.storage.models import LedgerHead, WarcRecord

    last = START + dt.timedelta(days=DAYS - 1)
    again = steps.seal_ledger(hostile.settings, last)
    assert again["leaves_appended"] == 0 and not again["new_head"]
    upgrade(hostile.settings.db_url)
    with _session(hostile) as s:
        try:
            heads = s.scalars(select(LedgerHead.head_date).order_by(LedgerHead.id)).all()
            offsets = s.scalar(select(func.count()).select_from(WarcRecord))
        finally:
            s.bind.dispose()
    assert heads == [START + dt.timedelta(days=n) for n in range(DAYS)]
    assert offsets > 0  # the crawls stored where each record lies
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in steps.settings_environment(hostile.settings).items():
            mp.setenv(name, value)
        code = main(["audit", "verify"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "every link holds" in out and f"signed heads checked: {DAYS}" in out
    assert "cited WARC records re-read: 0 " not in out
