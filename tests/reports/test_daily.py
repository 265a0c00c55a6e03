"""The daily flag report on a small tracked world with hostile listings."""

import csv
import datetime as dt
import html.parser
import json

from sqlalchemy.orm import Session

from precursor_watch.reports import daily
from precursor_watch.reports.daily import DAY_NUMBERS, write_daily_report
from precursor_watch.enforcement.notices import send_notices
from precursor_watch.reports.safe import FORMULA_PREFIXES
from precursor_watch.storage.stats import compute_stats
from tests.reports.conftest import D0, HOSTILE_TITLES, item

D1, D2 = D0 + dt.timedelta(days=1), D0 + dt.timedelta(days=2)


class Doc(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []
        self.stack, self.marks, self.stats = [], [], {}
        self._stat = None

    def handle_starttag(self, name, attrs):
        self.tags.append(name)
        self.attrs.extend((name, k, v) for k, v in attrs)
        self.stack.append(name)
        d = dict(attrs)
        if "data-stat" in d:
            self._stat = d["data-stat"]

    def handle_endtag(self, name):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self.stack and self.stack[-1] == "mark":
            self.marks.append(data)
        if self._stat and self.stack and self.stack[-1] == "span":
            self.stats[self._stat] = data
            self._stat = None


def build(world, endpoint):
    o = endpoint.origin

    def listings(day, first=0):
        out = [item("chemdir", o, f"CD{i}", day, t) for i, t in enumerate(HOSTILE_TITLES.values()) if i >= first]
        return out + [item("chemdir", o, "CDX", day, "acetone", text="acetone drums")]

    world.crawl("chemdir", o, D0, listings(D0))
    world.review("CD0", "confirmed", D0)
    world.review("CD1", "confirmed", D0)
    world.review("CD2", "dismissed", D0)
    endpoint.world_date = D0
    send_notices(world.settings, D0)
    world.crawl("chemdir", o, D1, listings(D1, first=1) + [item("chemdir", o, "CD7", D1, "4-ANPP fresh")])
    world.event("removal_observed", "CD0", D1, cause="not_found", evidence_sha256="e" * 64)
    world.crawl("chemdir", o, D2, listings(D2, first=1))


def test_daily_report_numbers_flags_and_hostile_content(world, endpoint):
    build(world, endpoint)
    for day in (D0, D1, D2):
        path = write_daily_report(world.settings, day)
    folder = path.parent
    assert folder.name == D2.isoformat() and sorted(p.name for p in folder.iterdir()) == ["flags-1.html", "flags.csv", "flags.json", "heads.json", "index.html", "quarantine.csv"]

    # D1's page: its numbers are storage's statistics for that day (what `pwatch stats` prints)
    d1 = (folder.parent / D1.isoformat() / "index.html").read_text()
    doc = Doc()
    doc.feed(d1)
    with Session(world.engine) as s:
        truth = compute_stats(s, D1, D1)["total"]
    assert {k: int(doc.stats[k]) for k, _ in DAY_NUMBERS} == {k: truth[k] for k, _ in DAY_NUMBERS}
    assert truth["removed"] == 1 and truth["flagged"] == 1  # CD0 removed, CD7 newly flagged

    # the full ranked list (flags-1.html) holds every hostile flag; it and the day's page are inert
    html_text = (folder / "flags-1.html").read_text()
    doc = Doc()
    doc.feed(html_text + path.read_text())
    # hostile listings are inert: no script, no event handlers, no javascript: links, no remote loads
    assert "script" not in doc.tags and "img" not in doc.tags and "iframe" not in doc.tags
    assert not [a for a in doc.attrs if a[1].startswith("on")]
    assert all(v.startswith(("http://", "https://", "../", "flags.", "flags-", "quarantine.csv", "data:")) or v.endswith("index.html")
               for _, k, v in doc.attrs if k in ("href", "src"))
    text = "".join(doc.text)
    for title in HOSTILE_TITLES.values():
        assert title.replace("\u202e", "[U+202E]") in text
    assert "\u202e" not in html_text
    assert doc.marks and set(doc.marks) <= {"4-ANPP", "ANPP", "1 kg"}  # matched words highlighted
    assert "1 kg" in doc.marks  # trade signals too

    flags = list(csv.DictReader((folder / "flags.csv").open()))
    assert len(flags) == len(HOSTILE_TITLES) + 1  # CD7 flagged on D1
    for row in flags:
        for value in row.values():
            assert not value.startswith(FORMULA_PREFIXES), value
    by_key = {r["listing_key"]: r for r in flags}
    assert by_key["CD3"]["title"] == "'" + HOSTILE_TITLES["formula"]
    assert by_key["CD5"]["title"].startswith("'@")
    assert by_key["CD0"]["status"] == "reported / removed" and by_key["CD2"]["status"] == "dismissed / active"
    assert by_key["CD0"]["ticket"] == "T-0001"
    assert "UN: 1988 Convention Table I" in by_key["CD0"]["control_status_at_listing_date"]
    assert "XX" not in by_key["CD0"]["control_status_at_listing_date"]  # not yet in force
    assert [float(r["score"]) for r in flags] == sorted((float(r["score"]) for r in flags), reverse=True)

    data = json.loads((folder / "flags.json").read_text())
    assert data["day"] == D2.isoformat() and len(data["flags"]) == len(flags)

    index = (folder.parent / "index.html").read_text()
    for day in (D0, D1, D2):
        assert f'href="{day.isoformat()}/index.html"' in index


def test_report_as_of_an_earlier_day_shows_that_days_state(world, endpoint):
    build(world, endpoint)
    path = write_daily_report(world.settings, D0)
    flags = {r["listing_key"]: r for r in csv.DictReader((path.parent / "flags.csv").open())}
    assert flags["CD0"]["status"] == "reported / active"  # removal observed only on D1
    assert "CD7" not in flags


def test_overdue_notices_listed(world, endpoint):
    build(world, endpoint)
    # CD1 was reported on D0 and never removed; overdue after 3 days
    later = D0 + dt.timedelta(days=4)
    path = write_daily_report(world.settings, later)
    data = json.loads((path.parent / "flags.json").read_text())
    assert data["numbers"]["notices_overdue"] == 1
    (notice,) = data["notices_overdue"]
    assert notice["open_listings"] == [f"{endpoint.origin}/product/CD1.html"] and notice["days_open"] == 4
    early = json.loads((write_daily_report(world.settings, D2).parent / "flags.json").read_text())
    assert early["numbers"]["notices_overdue"] == 0


def test_report_and_notice_files_do_not_depend_on_ingest_order(tmp_path, endpoint):
    """The same listings ingested in another order (other database ids, as parallel crawls give
    from run to run) give the same daily report and notice exports, byte for byte."""
    from precursor_watch.storage.db import make_engine, upgrade
    from tests.reports.conftest import ReportSettings
    from tests.reports.conftest import World as Tracked
    from tests.storage.helpers import gone

    outputs = []
    for order in (1, -1):
        root = tmp_path / f"order{order}"
        root.mkdir()
        url = f"sqlite:///{root / 'pwatch.db'}"
        upgrade(url)
        world = Tracked(ReportSettings(root, url), make_engine(url))
        try:
            keys = [f"CD{i}" for i in range(6)]
            world.crawl("chemdir", endpoint.origin, D0, [item("chemdir", endpoint.origin, k, D0, "4-ANPP 99%") for k in keys][::order])
            for k in keys[::order]:
                world.review(k, "confirmed", D0)
            endpoint.world_date = D0
            send_notices(world.settings, D0)
            removed = [gone("chemdir", k, D1) for k in keys[:4]]
            for g in removed:
                g.url = f"{endpoint.origin}/product/{g.listing_key}.html"
            world.crawl("chemdir", endpoint.origin, D1, (removed + [item("chemdir", endpoint.origin, k, D1, "4-ANPP 99%")
                                                                    for k in keys[4:]])[::order])
            from precursor_watch.storage.reconcile import reconcile_date

            with Session(world.engine) as s, s.begin():
                reconcile_date(s, D1)
            send_notices(world.settings, D1)
            files = [*(root / "notices").iterdir()]
            for day in (D0, D1):
                files += write_daily_report(world.settings, day).parent.iterdir()
            outputs.append({str(p.relative_to(root)): p.read_bytes() for p in files})
        finally:
            world.engine.dispose()
    assert outputs[0].keys() == outputs[1].keys()
    assert [name for name in outputs[0] if outputs[0][name] != outputs[1][name]] == []


SCRIPT = '<script>document.title="pwned"</script>'
FORMULA = '=HYPERLINK("http://198.51.100.7/x","q")'


def _quarantine_day(world, endpoint):
    """D0: chemdir stores CD0 and refuses CD1 (a seller key longer than its column, hostile
    text everywhere); mercado's crawler quarantined a page it could not read."""
    import dataclasses

    from precursor_watch.contract import QuarantinedItem
    from tests.reports.conftest import evidence

    o = endpoint.origin
    long_key = dataclasses.replace(item("chemdir", o, FORMULA, D0, SCRIPT), seller_key=SCRIPT * 30)
    world.crawl("chemdir", o, D0, [item("chemdir", o, "CD0", D0, "4-ANPP 99%"), long_key])
    unreadable = QuarantinedItem(platform="mercado", url=f"{o}/api/anuncios/MX1", listing_key="MX1", kind="extraction",
                                 field=None, message=FORMULA + " " + SCRIPT, crawl_date=D0, evidence=evidence("mx1"))
    world.crawl("mercado", o, D0, [unreadable])
    world.crawl("chemdir", o, D1, [item("chemdir", o, "CD0", D1, "4-ANPP 99%")])


def test_quarantined_items_are_counted_and_listed_inert(world, endpoint):
    _quarantine_day(world, endpoint)
    path = write_daily_report(world.settings, D0)
    html_text = path.read_text()
    doc = Doc()
    doc.feed(html_text)
    assert "script" not in doc.tags and "<script>" not in html_text
    text = "".join(doc.text)
    assert "Quarantined items (2)" in text
    assert SCRIPT in text and FORMULA in text  # shown as text, escaped
    assert "field seller_key has 1170 characters, the column holds 512" in text

    data = json.loads((path.parent / "flags.json").read_text())
    assert data["quarantined"]["counts"] == {"chemdir": {"too_long": 1}, "mercado": {"extraction": 1}}
    by_platform = {q["platform"]: q for q in data["quarantined"]["items"]}
    assert by_platform["chemdir"]["field"] == "seller_key" and by_platform["chemdir"]["listing_key"] == FORMULA
    assert by_platform["mercado"]["kind"] == "extraction" and by_platform["mercado"]["url"].endswith("/api/anuncios/MX1")

    rows = list(csv.DictReader((path.parent / "quarantine.csv").open()))
    assert len(rows) == 2
    for row in rows:
        for value in row.values():
            assert not value.startswith(FORMULA_PREFIXES), value
    by_platform = {r["platform"]: r for r in rows}
    assert by_platform["chemdir"]["listing_key"] == "'" + FORMULA
    assert by_platform["mercado"]["reason"] == "'" + FORMULA + " " + SCRIPT

    # a day without quarantined items says so, and its CSV has the header only
    quiet = write_daily_report(world.settings, D1)
    assert "No item of this day&#x27;s crawls was quarantined." in quiet.read_text()
    assert (quiet.parent / "quarantine.csv").read_text().splitlines() == [",".join(
        ["platform", "kind", "field", "url", "listing_key", "reason", "evidence_sha256"])]


def test_day_numbers_read_off_the_period_members_equal_a_separate_computation(world, endpoint):
    """The daily report computes the members once (first day .. D) and reads each day's numbers
    off them; a separate computation over [day, day] is the oracle."""
    from precursor_watch.reports import stats
    from precursor_watch.storage.stats import load_event_log

    build(world, endpoint)
    names = tuple(k for k, _ in DAY_NUMBERS)
    with Session(world.engine) as s:
        for end in (D0, D1, D2):
            period = stats.period_statistics(load_event_log(s, end), D0, end)
            for day in (D0, D1, D2):
                if day <= end:
                    truth = compute_stats(s, day, day)["total"]
                    assert stats.day_counts(period, day, names) == {k: truth[k] for k in names}, (end, day)
        assert sum(compute_stats(s, D0, D2)["total"][k] for k in names) > 5  # the world has events to count


class Rows(html.parser.HTMLParser):
    """The rows of table#flags: each row's cell texts and the hrefs in it."""

    def __init__(self):
        super().__init__()
        self.rows, self.inside, self.in_body = [], False, False

    def handle_starttag(self, name, attrs):
        a = dict(attrs)
        if name == "table":
            self.inside = a.get("id") == "flags"
        elif self.inside and name == "tbody":
            self.in_body = True
        elif self.in_body and name == "tr":
            self.rows.append({"cells": [], "hrefs": []})
        elif self.in_body and name == "td":
            self.rows[-1]["cells"].append("")
        elif self.in_body and name == "a":
            self.rows[-1]["hrefs"].append(a.get("href"))

    def handle_endtag(self, name):
        if name == "table":
            self.inside = self.in_body = False

    def handle_data(self, data):
        if self.in_body and self.rows and self.rows[-1]["cells"]:
            self.rows[-1]["cells"][-1] += data


def _rows(path) -> list[dict]:
    parser = Rows()
    parser.feed(path.read_text())
    return parser.rows


def _ids(world) -> dict[str, int]:
    from sqlalchemy import select

    from precursor_watch.storage.models import Listing

    with Session(world.engine) as s:
        return dict(s.execute(select(Listing.listing_key, Listing.id)).all())


def test_new_flags_first_the_ranked_list_paginated_and_each_flag_linked_to_the_console(world, endpoint, monkeypatch):
    build(world, endpoint)
    console = "http://127.0.0.1:8471"
    world.settings.console_url = console
    monkeypatch.setattr(daily, "FLAGS_PER_PAGE", 3)
    for day in (D0, D1):
        path = write_daily_report(world.settings, day)
    folder, ids = path.parent, _ids(world)
    flags = list(csv.DictReader((folder / "flags.csv").open()))
    assert len(flags) == len(HOSTILE_TITLES) + 1 > 3

    # the day's page: only D1's new flag (CD7), then a pointer to the full list
    new = _rows(path)
    assert [r["cells"][3].strip().endswith("CD7") for r in new] == [True]
    text = path.read_text()
    assert text.index('id="flags"') < text.index('id="flag-pages"') < text.index("Charts")

    # the full ranked list: ceil(n / 3) pages, ranks 1..n in the CSV's order, nothing else in the folder
    pages = sorted(folder.glob("flags-*.html"), key=lambda p: int(p.stem.split("-")[1]))
    assert [p.name for p in pages] == [f"flags-{n}.html" for n in range(1, -(-len(flags) // 3) + 1)]
    listed = [r for p in pages for r in _rows(p)]
    assert [int(r["cells"][0]) for r in listed] == list(range(1, len(flags) + 1))
    assert [r["cells"][3].strip() for r in listed] == [f"{f['title']}{f['listing_key']}".removeprefix("'") for f in flags]
    for row, flag in zip(listed, flags, strict=True):
        case = f"{console}/case/{ids[flag['listing_key']]}"
        assert row["hrefs"][-2:] == [case, f"{case}/pack"]
        assert flag["case_url"] == case
    assert 'rel="next"' in pages[0].read_text() and 'rel="prev"' in pages[-1].read_text()
    for p in pages:  # hostile titles stay text on every page
        doc = Doc()
        doc.feed(p.read_text())
        assert "script" not in doc.tags and "img" not in doc.tags and "\u202e" not in p.read_text()
        assert not [a for a in doc.attrs if a[1].startswith("on")]

    # a shorter rendering of the same day leaves no stale page behind; no console URL, no links
    monkeypatch.setattr(daily, "FLAGS_PER_PAGE", 100)
    world.settings.console_url = ""
    write_daily_report(world.settings, D1)
    assert sorted(p.name for p in folder.glob("flags-*.html")) == ["flags-1.html"]
    assert "/case/" not in (folder / "flags-1.html").read_text() + path.read_text()
    assert {f["case_url"] for f in csv.DictReader((folder / "flags.csv").open())} == {""}
