"""Layout drift end to end, against the fixture world's `drift=sourcing@D1` fault.

sourcing changes its markup from D1 on (fixtures/sites_sourcing.py, `detail_v2`). Crawled by the
daily run's own crawl step (`steps.crawl_platform`, what the Airflow task calls) into a SQLite
tracking database and reconciled day by day:

- D0 (old layout): healthy;
- D1 and D2 (new layout): the step fails naming the platform file and the broken fields, the
  health and the stored run say unhealthy, the daily report's crawl-health section names the
  fields, and reconcile counts no listing of sourcing as removed;
- D3, with a corrected copy of the platform file (setting `platform_files_dir`): healthy again,
  every live listing captured equal to the truth, and every removal counted is one the truth has.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.crawlers.platform_file import PACKAGED_DIR
from tests.crawlers.conftest import DAY

PLATFORM = "sourcing"
D0, D1, D2, D3 = (DAY + dt.timedelta(days=i) for i in (-2, -1, 0, 1))
PROFILE = f"none,drift={PLATFORM}@{D1.isoformat()}"
REQUIRED = ("title", "text", "price", "seller_key", "seller_name")

# The new layout's rules, as an analyst would write them after `pwatch platforms check --url`.
CORRECTIONS = {
    '[extraction.fields.title]\ncss = "h1.product-name"': '[extraction.fields.title]\ncss = "h1.pd-title"',
    '[extraction.fields.text]\ncss = "div.desc-body"': '[extraction.fields.text]\ncss = "section.pd-detail"',
    'css = "td.price span.amount::text"': 'css = "div.pd-price b::text"',
    'css = "td.price span.currency::text"': 'css = "div.pd-price em::text"',
    'css = "a.company-name::attr(href)"\nlink = "seller"': 'css = "a.supplier-link::attr(href)"\nlink = "seller"',
    'css = "a.company-name::attr(href)"\nlink = "store"': 'css = "a.supplier-link::attr(href)"\nlink = "store"',
    '[extraction.fields.seller_name]\ncss = "a.company-name"': '[extraction.fields.seller_name]\ncss = "a.supplier-link"',
    'css = "ul.contact-list li::attr(data-im)"': 'css = "ul.company-contacts li::attr(data-contact-value)"',
    'css = "td.update-time::text"\nstrip = true': "css = \"p.pd-updated::text\"\nregex = '(\\d{4}-\\d{2}-\\d{2})'",
    'inquiry = "form.inquiry-form"': 'inquiry = "a.inquiry-btn"',
}


def corrected_file(folder):
    text = (PACKAGED_DIR / f"{PLATFORM}.toml").read_text(encoding="utf-8")
    for old, new in CORRECTIONS.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    folder.mkdir()
    (folder / f"{PLATFORM}.toml").write_text(text, encoding="utf-8")
    return folder


def settings_for(world, data_dir, files_dir=None):
    from precursor_watch.settings import load_settings

    environ = {
        "PWATCH_DATA_DIR": str(data_dir),
        "PWATCH_FIXTURE_PORT": str(world.handle.config.port),
        "PWATCH_LOG_LEVEL": "WARNING",
        "PWATCH_PLATFORMS": PLATFORM,
    }
    if files_dir is not None:
        environ["PWATCH_PLATFORM_FILES_DIR"] = str(files_dir)
    return load_settings(environ=environ)


def crawl_day(world, settings, day):
    from precursor_watch import steps

    world.handle.set_date(day)
    return steps.crawl_platform(settings, PLATFORM, day)


def removals(settings, day):
    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.kinds import EventKind
    from precursor_watch.storage.models import Event, Listing, Platform

    engine = make_engine(settings.db_url)
    with Session(engine) as session:
        rows = session.execute(
            select(Listing.url)
            .join(Event, Event.listing_id == Listing.id)
            .join(Platform, Platform.id == Event.platform_id)
            .where(Platform.name == PLATFORM, Event.kind == EventKind.REMOVAL_OBSERVED, Event.occurred_on == day)
        ).all()
    engine.dispose()
    return {r[0] for r in rows}


@pytest.fixture(scope="module")
def drifted(fixture_world, tmp_path_factory):
    from precursor_watch import steps
    from precursor_watch.errors import ServiceError

    world = fixture_world(PROFILE)
    data_dir = tmp_path_factory.mktemp("drift")
    settings = settings_for(world, data_dir)
    out = {"world": world, "settings": settings, "failures": {}}
    out["d0"] = crawl_day(world, settings, D0)
    steps.reconcile(settings, D0)
    for day in (D1, D2):
        with pytest.raises(ServiceError) as failure:
            crawl_day(world, settings, day)
        out["failures"][day] = str(failure.value)
        steps.reconcile(settings, day)
    fixed = settings_for(world, data_dir, corrected_file(tmp_path_factory.mktemp("files") / "platforms"))
    out["d3"] = crawl_day(world, fixed, D3)
    steps.reconcile(fixed, D3)
    out["fixed"] = fixed
    return out


def test_before_the_drift_the_crawl_is_healthy(drifted):
    assert drifted["d0"]["healthy"] is True


@pytest.mark.parametrize("day", [D1, D2])
def test_from_the_drift_day_on_the_crawl_is_unhealthy_naming_the_file_and_the_fields(drifted, day):
    message = drifted["failures"][day]
    assert f"{PLATFORM}.toml" in message and "layout drift" in message, message
    assert all(name in message for name in REQUIRED), message
    settings = drifted["settings"]
    health = json.loads((settings.data_path / "jobs" / PLATFORM / day.isoformat() / "health.json").read_text())
    assert set(health["drift"]) == set(REQUIRED) and health["drift_share"] > settings.crawl_error_threshold
    from precursor_watch.storage.crawls import crawl_run_summary
    from precursor_watch.storage.db import session_scope

    with session_scope(settings.db_url) as session:
        assert crawl_run_summary(session, PLATFORM, day)["healthy"] is False


@pytest.mark.parametrize("day", [D1, D2])
def test_no_listing_is_counted_removed_while_the_layout_is_broken(drifted, day):
    assert removals(drifted["settings"], day) == set()


def test_the_daily_report_shows_the_unhealthy_crawl_and_the_broken_fields(drifted):
    from precursor_watch.reports import daily
    from precursor_watch.storage.db import session_scope

    with session_scope(drifted["settings"].db_url) as session:
        data = daily.collect(session, D1, 7)
    assert [u.platform for u in data["unhealthy"]] == [PLATFORM]
    drift = daily.drift_counts(data["quarantined"])
    assert set(drift[PLATFORM]) == set(REQUIRED)
    assert daily.to_json(data)["layout_drift"] == drift
    html = daily.render_day(data)
    assert 'id="crawl-health"' in html and "seller_name (" in html


def test_after_the_platform_file_is_corrected_the_next_crawl_is_healthy_and_exact(drifted):
    from precursor_watch.contract import content_hash
    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.models import CrawlRun, Listing, Observation, Platform

    assert drifted["d3"]["healthy"] is True
    world, fixed = drifted["world"], drifted["fixed"]
    truth = {r["url"]: r for r in world.truth(PLATFORM, D3)}
    live = {u: r for u, r in truth.items() if r["status"] == "live"}
    engine = make_engine(fixed.db_url)
    with Session(engine) as session:
        seen = session.execute(
            select(Observation.url, Listing.content_sha256)
            .join(CrawlRun, CrawlRun.id == Observation.crawl_run_id)
            .join(Platform, Platform.id == CrawlRun.platform_id)
            .join(Listing, Listing.id == Observation.listing_id)
            .where(Platform.name == PLATFORM, CrawlRun.crawl_date == D3, Observation.kind == "seen")
        ).all()
    engine.dispose()
    assert {url for url, _ in seen} == set(live)
    assert {url: sha for url, sha in seen} == {u: content_hash(r["title"], r["text"]) for u, r in live.items()}
    assert removals(fixed, D3) <= {u for u, r in truth.items() if r["status"] == "removed"}
