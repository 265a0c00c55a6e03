"""Thirty days of the fixture world replayed into storage, checked against the world's truth.

Notices for a share of the confirmed offers go to the platforms over loopback HTTP and change the
world; four crawls fail. Statuses, removal days, relistings and every statistic are compared with
what `expected.py` derives from the truth alone.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import World, WorldConfig
from precursor_watch.storage.db import make_engine, upgrade
from precursor_watch.storage.events import listing_kinds
from precursor_watch.storage.models import Event, Listing, Platform, RelistLink
from precursor_watch.storage.state import derive_state
from precursor_watch.storage.stats import compute_stats, explain

from . import expected
from .replay import K, SILENT, replay

pytestmark = pytest.mark.slow  # ~40 s: a world server and 30 replayed days

START = dt.date(2026, 11, 1)
DAYS = 30
FAILURES = {("tradehub", 6), ("mercado", 12), ("chemdir", 17), ("huaxue", 21), ("huaxue", 22)}
NOTICE_SHARE, FP_SHARE = 0.7, 0.05


@pytest.fixture(scope="module")
def world_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay")
    url = f"sqlite:///{root / 'pwatch.db'}"
    upgrade(url)
    engine = make_engine(url)
    config = WorldConfig(seed=7, start=START, days=DAYS, scale=500, port=0, state_dir=root / "world")
    presence: dict[dt.date, dict[str, str]] = {}

    def snapshot(session, day):
        presence[day] = dict(session.execute(select(Listing.url, Listing.presence)).all())

    with serve_in_background(config, START) as handle:
        world = World(handle.config)
        log = replay(engine, world, handle, DAYS, FAILURES, notice_share=NOTICE_SHARE, fp_share=FP_SHARE, on_day=snapshot)
    last = log.truth[log.days[-1]]
    pairs = {(u, r["relist_of"]) for u, r in last.items() if r["relist_of"]}
    model = expected.observe(log.truth, log.failures, NOTICE_SHARE, FP_SHARE, pairs)
    notices_file = [json.loads(line) for line in (root / "world" / "notices.jsonl").read_text().splitlines() if line]
    yield engine, log, model, presence, pairs, notices_file
    engine.dispose()


def test_the_world_exercised_every_dynamic(world_run):
    _engine, log, model, _presence, pairs, notices_file = world_run
    kinds = {e.kind for e in model.events}
    assert {"removal_observed", "reappeared", "relisted_as", "reported", "dismissed", "account_closed",
            "store_closed", "platform_closed"} <= kinds
    causes = {r["removal_cause"] for r in log.truth[log.days[-1]].values()}
    assert "notice" in causes  # our notices removed listings in the world
    assert len(notices_file) == len(log.notices) > 0 and len(pairs) >= 10


def test_statuses_equal_the_truth_every_day(world_run):
    _engine, log, model, presence, _pairs, _ = world_run
    for day in log.days:
        assert presence[day] == model.presence[day], f"{day}: statuses differ"
    # and the model is the truth, seen through the crawls: live in truth = active for us, except
    # where a failed crawl or the silent platform's K-day verification delays what we can know
    for day in log.days:
        for url, state in model.presence[day].items():
            r = log.truth[day][url]
            if r["status"] == "live":
                assert state == "active" or (r["platform"], day) in log.failures, (day, url)


def test_removals_on_the_right_day_and_none_on_failed_crawls(world_run):
    engine, log, _model, _presence, _pairs, _ = world_run
    with Session(engine) as s:
        rows = s.execute(select(Listing.url, Platform.name, Event.occurred_on, Event.cause)
                         .join(Listing, Listing.id == Event.listing_id).join(Platform, Platform.id == Listing.platform_id)
                         .where(Event.kind == "removal_observed")).all()
    assert rows
    failures = log.failures
    for url, platform, on, cause in rows:
        if cause != "platform_closed":
            assert (platform, on) not in failures, f"removal of {url} on a failed crawl day {on}"
        truth_day = dt.date.fromisoformat(log.truth[on][url]["removed_on"])
        lost = sum(1 for d in range((on - truth_day).days + 1) if (platform, truth_day + dt.timedelta(days=d)) in failures)
        allowed = (K - 1 if platform in SILENT else 0) + lost
        assert truth_day <= on <= truth_day + dt.timedelta(days=allowed), (url, platform, truth_day, on, cause)
        if platform not in SILENT and not lost:
            assert on == truth_day


def test_relistings_precision_and_recall(world_run):
    engine, _log, model, _presence, pairs, _ = world_run
    with Session(engine) as s:
        urls = dict(s.execute(select(Listing.id, Listing.url)).all())
        found = {(urls[l.new_listing_id], urls[l.original_listing_id]) for l in s.scalars(select(RelistLink))}
        methods = set(s.scalars(select(RelistLink.method)))
    knowable = {(c, o) for c, o in pairs if c in model.first_seen and o in model.first_seen}
    tp = len(found & knowable)
    precision, recall = tp / len(found), tp / len(knowable)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall, found ^ knowable)
    assert {"text", "contact"} <= methods


def test_cached_state_is_what_the_events_imply(world_run):
    engine = world_run[0]
    with Session(engine) as s:
        for row in s.scalars(select(Listing)):
            st = derive_state(listing_kinds(s, row.id))
            assert (st.presence, st.review) == (row.presence, row.review), row.url


@pytest.mark.parametrize("lo, hi", [(0, DAYS - 1), (8, 20)])
def test_every_statistic_equals_the_truth(world_run, lo, hi):
    engine, log, model, _presence, _pairs, notices_file = world_run
    date_from, date_to = START + dt.timedelta(days=lo), START + dt.timedelta(days=hi)
    want_total = expected.stats(model, date_from, date_to)["total"]
    want_platform = expected.stats(model, date_from, date_to, group_of=lambda e: e.platform)
    with Session(engine) as s:
        got = compute_stats(s, date_from, date_to, by="platform")
    assert got["total"] == want_total
    assert got["groups"] == want_platform
    # items reported, counted from the platforms' own notice log
    items = sum(r["urls_accepted"] for r in notices_file if date_from <= dt.date.fromisoformat(r["received_on"]) <= date_to)
    assert got["total"]["items_reported"] == items
    assert got["total"]["removed"] > 0 and got["total"]["reported"] > 0


def test_every_number_lists_its_listings_and_evidence(world_run):
    engine, *_ = world_run
    with Session(engine) as s:
        total = compute_stats(s, START, START + dt.timedelta(days=DAYS - 1))["total"]
        removed = explain(s, "removed", START, START + dt.timedelta(days=DAYS - 1))
        assert len(removed) == total["removed"]
        explicit = [r for r in removed if any(e["evidence_sha256"] for e in r["evidence"])]
        assert explicit and all(len(e["evidence_sha256"]) == 64 for r in explicit for e in r["evidence"] if e["evidence_sha256"])
        rate = explain(s, "removal_rate", START, START + dt.timedelta(days=DAYS - 1))
        assert len(rate) == total["reported"]
        assert round(sum(r["counted"] for r in rate) / len(rate), 6) == total["removal_rate"]
        closed = explain(s, "accounts_closed", START, START + dt.timedelta(days=DAYS - 1))
        assert len(closed) == total["accounts_closed"] and all(r["subject"] == "account" for r in closed)
