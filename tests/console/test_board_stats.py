"""The notices board, the statistics page and the evidence pack download over a real run.

Notices are recorded through storage (the same calls `pwatch notify` makes) in every delivery
state; the board must put each in its state, count them per platform, and agree with `pwatch
notices overdue`'s rule. The statistics page must show exactly what `pwatch stats` prints, and
each number's drill-down exactly what `pwatch stats --explain` lists.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from html.parser import HTMLParser

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.reports.queries import overdue_notices
from precursor_watch.storage import events as ev
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.kinds import EventKind, RemovalCause
from precursor_watch.storage.models import Listing, Platform
from precursor_watch.storage.notices import record_notice, record_notice_failure, record_notice_response
from precursor_watch.storage.reviews import logical_day
from precursor_watch.storage.types import logical_ts
from tests.console.conftest import DATES, pwatch, settings_for
from tests.console.helpers import client, flagged_ids, logged_in, token

HOSTILE_FAILURE = '<script>alert(1)</script><img src=x onerror=alert(2)> =HYPERLINK("http://evil.example")'


class Cells(HTMLParser):
    """Rows of a table (by id) as lists of (text, attributes, href) per cell; plus data-* of each row."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.inside = a.get("id") == self.table_id
        elif self.inside and tag == "tr":
            self.rows.append({"attrs": a, "cells": []})
        elif self.inside and tag == "td":
            self.cell = {"text": "", "attrs": a, "href": None}
            self.rows[-1]["cells"].append(self.cell)
        elif self.inside and tag == "a" and self.cell is not None:
            self.cell["href"] = a.get("href")

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag == "td":
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data


def rows_of(html: str, table_id: str) -> list[dict]:
    parser = Cells(table_id)
    parser.feed(html)
    return [r for r in parser.rows if r["cells"]]


def _confirm(settings, ids: list[int]) -> None:
    c = logged_in(settings, "ana")
    form = {
        "csrf_token": token(c, "/queue"),
        "decision": "confirmed",
        "next": "/queue",
        "listing_id": [str(i) for i in ids],
    }
    answer = c.post("/decide", data=form)
    assert answer.status_code == 303


def _record(session, listing_id: int, key: str, on: dt.date) -> int:
    platform = session.scalar(select(Platform.name).join(Listing).where(Listing.id == listing_id))
    return record_notice(
        session,
        platform=platform,
        listing_ids=[listing_id],
        legal_basis="terms of service",
        channel="http",
        idempotency_key=key,
        sent_at=logical_ts(on),
        ticket=None,
        response={"request": {"ground": "test"}},
    )


@pytest.fixture
def noticed(run_copy):
    """Five notices, one per state: pending, failed (pending too), sent, acknowledged, removed;
    recorded on the first day, so a day old on the second (overdue once the limit is one day)."""
    ids = flagged_ids(run_copy.settings)[:5]
    _confirm(run_copy.settings, ids)
    engine = make_engine(run_copy.settings.db_url)
    day = DATES[-1]
    expected = {}
    try:
        with Session(engine) as s, s.begin():
            keys = ["pending", "failed", "sent", "acknowledged", "removed"]
            nids = {k: _record(s, lid, f"test-{k}", DATES[0]) for k, lid in zip(keys, ids, strict=True)}
            record_notice_failure(s, "test-failed", HOSTILE_FAILURE)
            record_notice_response(s, "test-sent", ticket="T-1", response={"answer": {"ticket": "T-1"}})
            for k in ("acknowledged", "removed"):
                answer = {"ticket": f"T-{k}", "received_on": day.isoformat()}
                record_notice_response(s, f"test-{k}", ticket=f"T-{k}", response={"answer": answer})
            ev.append(s, [ev.NewEvent(EventKind.REMOVAL_OBSERVED, ids[4], day, cause=RemovalCause.NOT_FOUND)])
            expected = {nids[k]: ("pending" if k == "failed" else k) for k in keys}
    finally:
        engine.dispose()
    return run_copy, expected


def test_the_board_puts_every_notice_in_its_state_and_counts_them_per_platform(noticed):
    run, expected = noticed
    c = logged_in(run.settings, "aud")
    page = c.get("/notices")
    assert page.status_code == 200
    listed = {int(r["attrs"]["data-notice-id"]): r["attrs"]["data-state"] for r in rows_of(page.text, "notice-list")}
    assert listed == expected
    board = rows_of(page.text, "board")
    totals = {cell["attrs"]["data-state"]: int(cell["text"]) for cell in board[-1]["cells"][1:]}
    assert totals == {s: sum(1 for v in expected.values() if v == s) for s in totals}
    per_platform = [r for r in board if r["attrs"]["data-platform"]]
    for state in totals:  # the platform rows add up to the total row
        assert (
            sum(int(c["text"]) for r in per_platform for c in r["cells"][1:] if c["attrs"]["data-state"] == state)
            == totals[state]
        )
    # the hostile failure reason is text
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    # a cell's link filters the list to exactly its notices
    platform_row = per_platform[0]
    cell = next(c for c in platform_row["cells"][1:] if int(c["text"]) > 0)
    filtered = rows_of(c.get(cell["href"].replace("&amp;", "&")).text, "notice-list")
    assert len(filtered) == int(cell["text"])
    assert {r["attrs"]["data-state"] for r in filtered} == {cell["attrs"]["data-state"]}


def test_overdue_on_the_board_is_the_rule_of_pwatch_notices_overdue(noticed, trained_model):
    run, expected = noticed
    settings = settings_for(run.data, trained_model, notice_overdue_days="1")
    page = logged_in(settings, "aud").get("/notices?state=overdue")
    shown = {
        int(r["attrs"]["data-notice-id"]) for r in rows_of(page.text, "notice-list") if "data-notice-id" in r["attrs"]
    }
    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as s:
            truth = {n.notice_id for n in overdue_notices(s, logical_day(s), 1)}
    finally:
        engine.dispose()
    assert shown == truth == {n for n, state in expected.items() if state != "removed"}


def _cli_json(data, *args: str):
    done = pwatch("stats", *args, "--format", "json", data=data)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_statistics_page_shows_the_numbers_of_pwatch_stats(run_copy):
    start, end = DATES[0].isoformat(), DATES[-1].isoformat()
    _confirm(run_copy.settings, flagged_ids(run_copy.settings)[:3])  # a few non-zero review numbers
    truth = _cli_json(run_copy.data, "--from", start, "--to", end, "--by", "platform")
    c = logged_in(run_copy.settings, "aud")
    page = c.get(f"/stats?from={start}&to={end}&by=platform")
    assert page.status_code == 200
    rows = rows_of(page.text, "stats")
    assert [r["attrs"]["data-stat"] for r in rows] == list(truth["total"])
    groups = {"total": truth["total"], **truth["groups"]}
    for row in rows:
        for cell in row["cells"][2:]:
            value = groups[cell["attrs"]["data-group"]][row["attrs"]["data-stat"]]
            shown = "–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
            assert cell["text"] == shown, (row["attrs"], cell)
    assert {c["attrs"]["data-group"] for c in rows[0]["cells"][2:]} == set(groups)
    assert truth["total"]["flagged"] > 0 and truth["total"]["confirmed"] == 3


@pytest.mark.parametrize(
    "metric,group,grouped", [("flagged", None, False), ("confirmed", "platform", True), ("flagged", None, True)]
)
def test_each_number_links_to_the_drill_down_of_pwatch_stats_explain(run_copy, metric, group, grouped):
    _confirm(run_copy.settings, flagged_ids(run_copy.settings)[:3])
    c = logged_in(run_copy.settings, "aud")
    page = c.get("/stats?by=platform" if grouped else "/stats")  # grouped: its total column links too
    row = next(r for r in rows_of(page.text, "stats") if r["attrs"]["data-stat"] == metric)
    cell = next(
        c for c in row["cells"][2:] if (c["attrs"]["data-group"] != "total") == bool(group) and c["text"] != "0"
    )
    drill = c.get(cell["href"].replace("&amp;", "&"))
    assert drill.status_code == 200
    assert re.search(r'id="explain-value">([^<]*)<', drill.text).group(1) == cell["text"]
    args = ["--explain", metric] + (["--by", "platform", "--group", cell["attrs"]["data-group"]] if group else [])
    truth = _cli_json(run_copy.data, *args)
    members = rows_of(drill.text, "members")
    assert [(r["attrs"]["data-subject"], int(r["attrs"]["data-id"])) for r in members] == [
        (t["subject"], t["id"]) for t in truth
    ]
    assert len(members) == int(cell["text"])  # distinct listings: one row each
    assert all(r["cells"][1]["href"] == f"/case/{r['attrs']['data-id']}" for r in members)


def test_bad_period_input_is_named_and_nothing_breaks(run_copy):
    c = logged_in(run_copy.settings, "ana")
    page = c.get("/stats?from=2026-13-01&to=2026-11-01&by=seller")
    assert page.status_code == 200
    assert "from: not a date" in page.text and "by: one of platform, account, store" in page.text
    assert c.get("/stats/explain?metric=nope").status_code == 404
    assert "&lt;b&gt;" in c.get("/stats/explain?metric=%3Cb%3E").text


def test_the_evidence_pack_downloads_for_analysts_and_auditors_only(run_copy):
    listing = flagged_ids(run_copy.settings)[0]
    for name in ("ana", "aud"):
        answer = logged_in(run_copy.settings, name).get(f"/case/{listing}/pack")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(answer.content)) as pack:
            assert {"events.jsonl", "head.json", "MANIFEST.sha256", "evidence.warc.gz", "verify_pack.py"} <= set(
                pack.namelist()
            )
            events = [json.loads(line) for line in pack.read("events.jsonl").decode().splitlines()]
            assert events and all("inclusion_proof" in e for e in events)
    assert logged_in(run_copy.settings, "adm").get(f"/case/{listing}/pack").status_code == 403
    assert client(run_copy.settings).get(f"/case/{listing}/pack").status_code == 303
    assert logged_in(run_copy.settings, "ana").get("/case/999999/pack").status_code == 404
