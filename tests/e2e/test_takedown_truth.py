"""End to end over simulated days: flag → confirm (demo auto-confirm) → notify → the fixture
platform removes → later crawls observe it → the daily report, `pwatch stats` and the audit report
agree with numbers computed independently from the world's truth and its notice log.

Independent side: the fixture server's notice log (`notices.jsonl`: which URLs each platform
received, and when) and `World.truth` (removal day of every listing). Pipeline side: the tracking
database, through `pwatch stats`, the daily report and the audit report.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import statistics

import pytest

from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import World, WorldConfig
from precursor_watch import steps
from precursor_watch.cli import main
from precursor_watch.settings import load_settings
from precursor_watch.reports.audit import write_audit_report
from precursor_watch.reports.daily import DAY_NUMBERS
from precursor_watch.storage.stats import p90
from tests.e2e.cdp import Browser

START = dt.date(2026, 11, 1)
DATES = [START + dt.timedelta(days=i) for i in range(3)]  # notices on day 1, removals observed on days 2-3
PLATFORMS = "chemdir,tradehub,mercado"  # 404, 410 and JSON-API removal styles; delays 1-2 days
SEED, SCALE = 11, 100

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory, trained_model):
    """Run the daily cycle over DATES once; yield settings, truth and the platforms' notice log."""
    data = tmp_path_factory.mktemp("takedown")
    config = WorldConfig(seed=SEED, start=START, days=30, scale=SCALE, port=0, state_dir=data / "fixtures")
    with serve_in_background(config, DATES[0]) as server:
        settings = load_settings(
            data_dir=str(data), environ={}, seed=str(SEED), scale=str(SCALE), world_start=START.isoformat(),
            fixture_port=str(server.config.port), platforms=PLATFORMS, auto_confirm="true", model_dir=str(trained_model),
        )
        for day in DATES:
            result = steps.run_day(settings, day)
            assert result["failed"] == {}, result["failed"]
        truth = {r["url"]: r for r in World(server.config).truth(DATES[-1])}
    log = [json.loads(line) for line in (config.state_dir / "notices.jsonl").read_text().splitlines() if line.strip()]
    yield settings, truth, log


def expected_takedowns(truth, log, date_from, date_to, platform=None):
    """From the truth only: per reported URL (first notice received in the period), the hours from
    notice to removal when the platform removed it by `date_to`."""
    first: dict[str, tuple[str, dt.date]] = {}
    for notice in log:
        for url in notice["urls"]:
            first.setdefault(url, (notice["platform"], dt.date.fromisoformat(notice["received_on"])))
    out = {}
    for url, (plat, received) in first.items():
        if not (date_from <= received <= date_to) or (platform and plat != platform):
            continue
        t = truth[url]
        removed = dt.date.fromisoformat(t["removed_on"]) if t["removed_on"] else None
        out[url] = (removed - received).days * 24.0 if removed and received <= removed <= date_to else None
    return out


def observed_takedowns(settings, date_from, date_to):
    """Per reported URL, the hours to removal the tracking database holds (None = not removed)."""
    from sqlalchemy.orm import Session

    from precursor_watch.storage.db import make_engine
    from precursor_watch.storage.stats import explain

    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as session:
            return {m["url"]: m["value"] for m in explain(session, "removal_rate", date_from, date_to)}
    finally:
        engine.dispose()


def _stats(settings, capsys, date_from, date_to, by=None):
    argv = ["stats", "--from", date_from.isoformat(), "--to", date_to.isoformat(), "--format", "json", "--data-dir", str(settings.data_path)]
    assert main(argv + (["--by", by] if by else [])) == 0
    return json.loads(capsys.readouterr().out)


def _compare(numbers, expected):
    removed_hours = [h for h in expected.values() if h is not None]
    assert numbers["reported"] == len(expected)
    assert numbers["removal_rate"] == (round(len(removed_hours) / len(expected), 6) if expected else None)
    assert numbers["median_hours_to_removal"] == (statistics.median(removed_hours) if removed_hours else None)
    assert numbers["p90_hours_to_removal"] == (p90(removed_hours) if removed_hours else None)


def test_stats_and_daily_reports_match_the_truth(run, capsys):
    settings, truth, log = run
    whole = expected_takedowns(truth, log, DATES[0], DATES[-1])
    assert whole and any(h is not None for h in whole.values()), "the run produced no notice-driven removal"
    observed = observed_takedowns(settings, DATES[0], DATES[-1])
    wrong = {u: (observed.get(u, "not reported"), h, truth[u]) for u, h in whole.items() if observed.get(u, "not reported") != h}
    assert not wrong and set(observed) == set(whole), f"observed vs truth: {wrong}; extra: {set(observed) - set(whole)}"
    total = _stats(settings, capsys, DATES[0], DATES[-1], by="platform")
    _compare(total["total"], whole)
    for platform in PLATFORMS.split(","):
        _compare(total["groups"].get(platform, {"reported": 0, "removal_rate": None, "median_hours_to_removal": None,
                                                  "p90_hours_to_removal": None}),
                 expected_takedowns(truth, log, DATES[0], DATES[-1], platform))
    for day in DATES:
        numbers = json.loads((settings.data_path / "reports" / day.isoformat() / "flags.json").read_text())["numbers"]
        cli = _stats(settings, capsys, day, day)["total"]
        assert {k: numbers[k] for k, _ in DAY_NUMBERS} == {k: cli[k] for k, _ in DAY_NUMBERS}
        assert numbers["reported"] == len(expected_takedowns(truth, log, day, day))
    # the latest report lists every reported listing with its ticket, and its status as the truth has it
    flags = {r["url"]: r for r in csv.DictReader((settings.data_path / "reports" / DATES[-1].isoformat() / "flags.csv").open())}
    tickets = {url: n["ticket"] for n in log for url in n["urls"]}
    for url, hours in whole.items():
        assert flags[url]["ticket"] == tickets[url]
        assert flags[url]["status"].endswith("removed" if truth[url]["status"] == "removed" else "active"), url


def test_audit_numbers_and_drilldown_match_the_truth(run):
    settings, truth, log = run
    path = write_audit_report(settings, DATES[0], DATES[-1])
    stats = {(r["metric"], r["group"]): r for r in csv.DictReader((path.parent / "statistics.csv").open())}
    drill = list(csv.DictReader((path.parent / "drilldown.csv").open()))
    for group in ["total", *PLATFORMS.split(",")]:
        expected = expected_takedowns(truth, log, DATES[0], DATES[-1], None if group == "total" else group)
        reported = {r["url"] for r in drill if r["metric"] == "reported" and r["group"] == group}
        assert reported == set(expected), group
        hours = {r["url"]: float(r["value"]) for r in drill if r["metric"] == "median_hours_to_removal" and r["group"] == group}
        assert hours == {u: h for u, h in expected.items() if h is not None}, group
        counted = {r["url"] for r in drill if r["metric"] == "removal_rate" and r["group"] == group and r["counted"] == "yes"}
        assert counted == {u for u, h in expected.items() if h is not None}, group
        if expected:
            assert float(stats[("reported", group)]["value"]) == len(expected)
    # removals of any cause: every listing the truth removed in the period after we first saw it alive
    first_crawl = DATES[0]
    removed_truth = {
        url for url, t in truth.items()
        if t["platform"] in PLATFORMS.split(",") and t["removed_on"] and t["reappeared_on"] is None
        and first_crawl < dt.date.fromisoformat(t["removed_on"]) <= DATES[-1]
        and dt.date.fromisoformat(t["appeared_on"]) < dt.date.fromisoformat(t["removed_on"])
    }
    removed_drill = {r["url"] for r in drill if r["metric"] == "removed" and r["group"] == "total"}
    assert removed_drill == removed_truth
    assert all(r["evidence_sha256"] for r in drill if r["metric"] == "removed")


@pytest.mark.browser
def test_latest_report_in_chromium_after_the_run(run, capsys):
    settings, _, _ = run
    latest = settings.data_path / "reports" / DATES[-1].isoformat() / "index.html"
    with Browser() as browser:
        load = browser.open(latest)
        assert load.errors == [] and load.requests == []
        shown = json.loads(load.evaluate(
            "JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-stat]')]"
            ".map(li => [li.dataset.stat, li.querySelector('.value').textContent])))"))
    cli = _stats(settings, capsys, DATES[-1], DATES[-1])["total"]
    assert {k: int(shown[k]) for k, _ in DAY_NUMBERS} == {k: cli[k] for k, _ in DAY_NUMBERS}
