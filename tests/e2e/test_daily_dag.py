"""The daily DAG through Airflow's `dag.test()` over consecutive dates of the fixture world: the
tracking database afterwards agrees with the world's truth; rerunning a date changes nothing; a
platform that is down fails only its own mapped task."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import World, WorldConfig
from precursor_watch.platforms import PLATFORMS as CRAWLED  # the daily run's default platforms
from precursor_watch.airflow_runner import test_dates as run_dag_dates
from precursor_watch.settings import load_settings
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.models import CrawlRun, Event, Listing, Notice, NoticeListing, Observation, Platform

START = dt.date(2026, 11, 1)
DATES = [START + dt.timedelta(days=i) for i in range(3)]
SCALE = 150
SEED = 5
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def world_and_settings(tmp_path, database_url: str, faults: str = "none"):
    config = WorldConfig(seed=SEED, start=START, days=30, scale=SCALE, faults=faults, port=0,
                         state_dir=tmp_path / "fixtures")
    return config, lambda port, model_dir: load_settings(
        data_dir=str(tmp_path), environ={},
        database_url=database_url, seed=str(SEED), scale=str(SCALE), world_start=START.isoformat(),
        fixture_port=str(port), faults=faults, auto_confirm="true", model_dir=str(model_dir),
    )


def tracking_dump(url: str) -> dict:
    """Everything that tracks state, in a comparable form (evidence file names of a refetch aside)."""
    engine = make_engine(url)
    dump = {}
    with engine.connect() as conn:
        for table in ("platforms", "accounts", "stores", "listings", "snapshots", "detections", "reviews",
                      "notices", "notice_listings", "relist_links", "events", "crawl_runs"):
            rows = conn.execute(text(f"SELECT * FROM {table}")).mappings().all()
            dump[table] = sorted(json.dumps({k: str(v) for k, v in r.items()}, sort_keys=True) for r in rows)
        dump["observations"] = sorted(
            json.dumps([str(v) for v in r]) for r in conn.execute(
                text("SELECT crawl_run_id, listing_id, url, kind, gone_reason, http_status, content_sha256 FROM observations"))
        )
    engine.dispose()
    return dump


def check_against_truth(url: str, world: World, dates: list[dt.date]) -> None:
    engine = make_engine(url)
    truth = {d: [r for r in world.truth(d) if r["platform"] in CRAWLED] for d in dates}  # the run's platforms
    with Session(engine) as s:
        # crawled: every platform's live listings of each day were observed that day
        for day in dates:
            seen = set(s.execute(
                select(Platform.name, Listing.listing_key)
                .join(Observation, Observation.listing_id == Listing.id)
                .join(CrawlRun, CrawlRun.id == Observation.crawl_run_id)
                .join(Platform, Platform.id == Listing.platform_id)
                .where(CrawlRun.crawl_date == day, Observation.kind == "seen")
            ).all())
            live = {(r["platform"], r["listing_key"]) for r in truth[day] if r["status"] == "live"}
            assert seen == live, f"{day}: missed {sorted(live - seen)[:5]}, extra {sorted(seen - live)[:5]}"

        # flagged: the detector's flags agree with the truth labels on what was crawled
        flagged = {row[0] for row in s.execute(
            select(Listing.url).join(Event, Event.listing_id == Listing.id).where(Event.kind == "flagged"))}
        positives = {r["url"] for r in truth[dates[-1]] if r["label"] == 1}
        crawled_urls = {row[0] for row in s.execute(select(Listing.url))}
        positives &= crawled_urls
        tp = len(flagged & positives)
        f1 = 2 * tp / (len(flagged) + len(positives))
        assert positives and f1 >= 0.9, f"flag F1 {f1:.3f}"

        # reported: exactly the URLs the platforms received notices for
        reported = {row[0] for row in s.execute(
            select(Listing.url).join(NoticeListing, NoticeListing.listing_id == Listing.id))}
        received = set()
        notice_file = world.config.state_dir / "notices.jsonl"
        for line in notice_file.read_text().splitlines() if notice_file.exists() else []:
            received.update(json.loads(line)["urls"])
        assert reported and reported == received
        assert s.scalar(select(Notice.id).where(Notice.ticket.is_(None))) is None  # every notice got its ticket

        # removed: a removal is observed on the day the truth says the page shows it
        observed = {(url_, day) for url_, day in s.execute(
            select(Listing.url, Event.occurred_on).join(Event, Event.listing_id == Listing.id)
            .where(Event.kind == "removal_observed"))}
        expected = {(r["url"], dt.date.fromisoformat(r["removed_on"])) for r in truth[dates[-1]]
                    if r["status"] == "removed" and r["url"] in crawled_urls
                    and dt.date.fromisoformat(r["removed_on"]) in dates
                    and dt.date.fromisoformat(r["removed_on"]) > dates[0]}
        assert observed == expected
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracking.db'}"
        return
    schema = f"pw_dag_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.mark.airflow
@pytest.mark.slow
def test_daily_dag_over_three_days_matches_truth_and_reruns_change_nothing(tmp_path, database_url, trained_model):
    config, make_settings = world_and_settings(tmp_path, database_url)
    with serve_in_background(config, DATES[0]) as server:
        settings = make_settings(server.config.port, trained_model)
        results = run_dag_dates(settings, DATES)
        assert [r["state"] for r in results] == ["success"] * 3, results
        world = World(server.config)
        check_against_truth(settings.db_url, world, DATES)
        before = tracking_dump(settings.db_url)
        rerun = run_dag_dates(settings, DATES[-1:])
        assert rerun[0]["state"] == "success", rerun
        assert tracking_dump(settings.db_url) == before
        [audit] = run_dag_dates(settings, DATES[-1:], dag_id="pwatch_audit")
        assert audit["state"] == "success", audit
        audit_dir = tmp_path / "audit" / f"{DATES[0]}_{DATES[-1]}"
        assert {"index.html", "statistics.csv", "drilldown.csv"} <= {p.name for p in audit_dir.iterdir()}


@pytest.mark.airflow
@pytest.mark.slow
def test_a_platform_that_is_down_fails_only_its_mapped_task(tmp_path, trained_model):
    config, make_settings = world_and_settings(tmp_path, f"sqlite:///{tmp_path / 'tracking.db'}")
    with serve_in_background(config, DATES[0]) as server:
        settings = make_settings(server.config.port, trained_model)
        [first] = run_dag_dates(settings, DATES[:1])
        assert first["state"] == "success" and first["failed"] == [], first
        server.force_fault("mercado", "*", "down", count=1_000_000)  # every mercado request: 503
        [second] = run_dag_dates(settings, DATES[1:2])
        assert second["failed"] == ["crawl[4]"], second
        engine = make_engine(settings.db_url)
        with Session(engine) as s:
            healthy = set(s.execute(
                select(Platform.name).join(CrawlRun, CrawlRun.platform_id == Platform.id)
                .where(CrawlRun.crawl_date == DATES[1], CrawlRun.healthy.is_(True))).scalars())
            mercado_removals = s.scalar(
                select(func.count()).select_from(Event).join(Platform, Platform.id == Event.platform_id)
                .where(Event.kind == "removal_observed", Platform.name == "mercado"))
            other_listings = s.scalar(
                select(func.count()).select_from(Observation).join(CrawlRun, CrawlRun.id == Observation.crawl_run_id)
                .where(CrawlRun.crawl_date == DATES[1]))
        engine.dispose()
        assert healthy == {"chemdir", "tradehub", "boardlist", "huaxue"}
        assert other_listings > 0
        assert mercado_removals == 0  # an unreachable platform is never taken for removed listings
        assert (tmp_path / "reports" / DATES[1].isoformat() / "index.html").exists()


def airflow_runs(settings) -> list[dict]:
    """The DAG runs in the Airflow metadata database `pwatch run` uses (<data dir>/airflow)."""
    engine = make_engine(f"sqlite:///{settings.data_path / 'airflow' / 'airflow.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT logical_date, start_date, end_date FROM dag_run WHERE dag_id = 'pwatch_daily'"))
            return [{k: _utc(v) for k, v in r._mapping.items()} for r in rows]
    finally:
        engine.dispose()


def _utc(value) -> dt.datetime:
    """Airflow keeps UTC; SQLite hands it back as naive text."""
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@pytest.mark.airflow
@pytest.mark.slow
def test_a_replayed_date_lasts_as_long_as_it_ran_not_since_its_logical_date(tmp_path, trained_model):
    config, make_settings = world_and_settings(tmp_path, f"sqlite:///{tmp_path / 'tracking.db'}")
    with serve_in_background(config, DATES[0]) as server:
        settings = make_settings(server.config.port, trained_model)
        began = dt.datetime.now(dt.timezone.utc)
        [result] = run_dag_dates(settings, DATES[:1])
        ended = dt.datetime.now(dt.timezone.utc)
    assert result["state"] == "success", result
    [run] = airflow_runs(settings)
    assert run["logical_date"].date() == DATES[0]  # still the replayed date D ...
    assert began <= run["start_date"] <= run["end_date"] <= ended  # ... but it started when it ran
