"""The reports in headless Debian Chromium: no console errors, no network requests, numbers equal
to `pwatch stats` for the day, hostile listings rendered as inert text."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy.orm import Session

from precursor_watch.cli import build_parser, main
from precursor_watch.reports.audit import write_audit_report
from precursor_watch.reports.daily import DAY_NUMBERS, write_daily_report
from tests.e2e.cdp import Browser
from tests.reports.conftest import HOSTILE_TITLES, endpoint, world  # noqa: F401  (fixtures)
from tests.reports.test_daily import D0, D1, D2, build

pytestmark = [
    pytest.mark.browser,
]

# Read the page from outside (the report itself has no scripts).
PROBE = """JSON.stringify({
  title: document.title,
  scripts: document.scripts.length,
  handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name)).filter(n => n.startsWith('on')),
  hrefs: [...document.querySelectorAll('[href],[src]')].map(e => e.getAttribute('href') || e.getAttribute('src')),
  protocols: [...document.links].map(a => a.protocol),
  numbers: Object.fromEntries([...document.querySelectorAll('[data-stat]')].map(li => [li.dataset.stat, li.querySelector('.value').textContent])),
  flagsText: (document.getElementById('flags') || {}).textContent || '',
  marks: [...document.querySelectorAll('mark')].map(m => m.textContent),
  svgs: document.querySelectorAll('svg').length,
})"""


def _stats_for(world, day: dt.date, capsys) -> dict:
    """`pwatch stats --from D --to D --format json` (storage's computation if the command is not wired yet)."""
    commands = build_parser()._subparsers._group_actions[0].choices
    if "stats" in commands:
        assert main(["stats", "--from", day.isoformat(), "--to", day.isoformat(), "--format", "json",
                     "--data-dir", str(world.settings.data_path)]) == 0
        return json.loads(capsys.readouterr().out)["total"]
    from precursor_watch.storage.stats import compute_stats

    with Session(world.engine) as s:
        return compute_stats(s, day, day)["total"]


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def test_latest_daily_report_in_chromium(world, endpoint, browser, capsys):  # noqa: F811
    build(world, endpoint)
    for day in (D0, D1, D2):
        write_daily_report(world.settings, day)
    reports = world.settings.data_path / "reports"
    for day in (D1, D2):  # D1 has removals and new flags, D2 is the latest
        folder = reports / day.isoformat()
        # the day's page shows the day's new flags; every flag so far is on the flags-<n> pages
        pages = {}
        for name in ["index.html", *sorted(p.name for p in folder.glob("flags-*.html"))]:
            load = browser.open(folder / name)
            assert load.errors == [], (name, load.errors)
            assert load.requests == [], (name, load.requests)
            page = pages[name] = json.loads(load.evaluate(PROBE))
            # hostile listings stayed text on every page
            assert page["scripts"] == 0 and page["handlers"] == [], name
            assert set(page["protocols"]) <= {"http:", "https:", "file:"}, name
            assert not any(h.lower().lstrip().startswith(("javascript:", "vbscript:")) for h in page["hrefs"]), name
            assert "\u202e" not in page["flagsText"], name
        assert len(pages) > 1, "the full ranked list is on flags-<n>.html pages"
        index = pages["index.html"]
        expected = _stats_for(world, day, capsys)
        assert {k: int(index["numbers"][k]) for k, _ in DAY_NUMBERS} == {k: expected[k] for k, _ in DAY_NUMBERS}
        assert index["title"] == f"Precursor Watch — flags {day.isoformat()}"
        assert index["svgs"] == 3
        every_flag = "".join(p["flagsText"] for name, p in pages.items() if name != "index.html")
        for title in HOSTILE_TITLES.values():
            assert title.replace("\u202e", "[U+202E]") in every_flag
        assert any(p["marks"] for p in pages.values())

    load = browser.open(reports / "index.html")
    assert load.errors == [] and load.requests == []
    links = [h for h in json.loads(load.evaluate(PROBE))["hrefs"] if h != "data:,"]  # data:, = no favicon request
    assert links == [f"{d.isoformat()}/index.html" for d in (D2, D1, D0)]


def test_audit_report_in_chromium(world, endpoint, browser):  # noqa: F811
    build(world, endpoint)
    path = write_audit_report(world.settings, D0, D2)
    load = browser.open(path)
    assert load.errors == [] and load.requests == []
    cells = load.evaluate(
        "JSON.stringify([...document.querySelectorAll('[data-metric]')].map(e => [e.dataset.metric, e.dataset.group, e.dataset.value]))"
    )
    values = {(m, g): v for m, g, v in json.loads(cells)}
    stats = json.loads((path.parent / "statistics.json").read_text())["groups"]
    assert len(values) == len(stats) * len(stats["total"])
    for (metric, group), value in values.items():
        expected = stats[group][metric]
        assert (value == "") if expected is None else (float(value) == float(expected)), (metric, group)


def test_fixture_worlds_hostile_listings_are_inert(world, browser, tmp_path):  # noqa: F811
    """The fixture world's own hostile listings (formula titles, script/handler/javascript:
    payloads, RLO overrides), tracked and flagged, then rendered: inert in Chromium and in CSV."""
    import csv

    from precursor_watch.contract import ListingItem
    from precursor_watch.fixtures.texts.hostile import FORMULA_PREFIXES, PAYLOADS
    from precursor_watch.fixtures.world import World, WorldConfig
    from precursor_watch.reports.safe import FORMULA_PREFIXES as CSV_PREFIXES
    from tests.reports.conftest import evidence

    day = dt.date(2026, 11, 6)
    truth = World(WorldConfig(seed=7, start=dt.date(2026, 11, 1), days=30, scale=1000, port=8470,
                              state_dir=tmp_path / "fixtures")).truth(day)
    hostile = [r for r in truth if r["status"] == "live" and r["title"].startswith(FORMULA_PREFIXES)]
    assert len(hostile) >= 5 and any(any(p in r["text"] for p in PAYLOADS) for r in hostile)
    by_platform: dict[str, list] = {}
    for r in hostile:
        by_platform.setdefault(r["platform"], []).append(
            ListingItem(platform=r["platform"], listing_key=r["listing_key"], url=r["url"], title=r["title"], text=r["text"],
                        lang=r["lang"], crawl_date=day, evidence=evidence(r["url"])))
    flag_all = lambda text: (True, 0.9, [{"id": "21409-26-7", "name": "4-ANPP"}], [{"message": "test: flag everything"}])  # noqa: E731
    for platform, items in by_platform.items():
        world.crawl(platform, "", day, items, detect=flag_all)
    path = write_daily_report(world.settings, day)

    load = browser.open(path)
    assert load.errors == [] and load.requests == []
    page = json.loads(load.evaluate(PROBE))
    assert page["title"] == f"Precursor Watch — flags {day.isoformat()}"
    assert page["scripts"] == 0 and page["handlers"] == []
    assert load.evaluate("document.querySelectorAll('iframe,img,svg script,body [onload]').length") == 0
    assert not any(h.lower().lstrip().startswith("javascript:") for h in page["hrefs"])
    for r in hostile:
        assert r["title"].replace("\u202e", "[U+202E]").replace("\u202c", "[U+202C]") in page["flagsText"]
    rows = list(csv.DictReader((path.parent / "flags.csv").open()))
    assert len(rows) == len(hostile)
    for row in rows:
        assert row["title"].startswith("'") and not any(v.startswith(CSV_PREFIXES) for v in row.values())
        assert "\u202e" not in row["title"]
