"""`send_notices` against the real fixture server when platforms answer notices in hostile ways
(ticket over 200 characters, tens of MB, one byte every few seconds): each such notice ends failed
with its reason within the deadline, the other platforms' notices are sent, nothing big is stored,
and a later run re-sends the failed ones without the platform counting a notice twice. On SQLite
and on PostgreSQL (where a long ticket used to fail the column and stop every later run)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from precursor_watch.contract import ListingItem
from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import World, WorldConfig
from precursor_watch.cli import main
from precursor_watch.reports.daily import write_daily_report
from precursor_watch.enforcement.notices import send_notices
from precursor_watch.storage.db import make_engine, upgrade
from precursor_watch.storage.models import Notice, Platform
from tests.reports.conftest import ReportSettings, evidence
from tests.reports.conftest import World as Tracked
from tests.storage.conftest import PG_BASE, pg_url_with_schema

START = dt.date(2026, 11, 1)
DEADLINE = 2.0
HOSTILE = {"chemdir": "long_ticket", "tradehub": "huge_answer", "boardlist": "drip"}  # mercado answers cleanly


@dataclasses.dataclass
class Settings(ReportSettings):
    notice_deadline_seconds: float = DEADLINE
    notice_answer_max_bytes: int = 64 * 1024


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tracked(request, tmp_path):
    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'pwatch.db'}", None
    else:
        schema = f"pw_notice_{uuid.uuid4().hex[:10]}"
        admin = make_engine(PG_BASE)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url, drop = pg_url_with_schema(schema), (admin, schema)
    upgrade(url)
    engine = make_engine(url)
    yield Tracked(Settings(tmp_path, url), engine)
    engine.dispose()
    if drop:
        admin, schema = drop
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def server(tmp_path):
    config = WorldConfig(seed=3, start=START, days=30, scale=60, port=0, state_dir=tmp_path / "fixtures")
    with serve_in_background(config, START) as handle:
        yield handle


def _track(tracked, server, platforms):
    truth = [r for r in World(server.config).truth(START) if r["status"] == "live"]
    for platform in platforms:
        rows = [r for r in truth if r["platform"] == platform][:2]
        items = [ListingItem(platform=platform, listing_key=r["listing_key"], url=r["url"], title=f"4-ANPP {r['listing_key']}",
                             text=f"4-ANPP offer {r['listing_key']}", lang="en", crawl_date=START, evidence=evidence(r["url"]))
                 for r in rows]
        tracked.crawl(platform, "", START, items)
        for r in rows:
            tracked.review(r["listing_key"], "confirmed", START)


def _received(server):
    path = server.config.state_dir / "notices.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _notices(tracked):
    with Session(tracked.engine) as s:
        return {p: n for n, p in s.execute(select(Notice, Platform.name).join(Platform, Platform.id == Notice.platform_id))}


def test_hostile_answers_fail_their_notice_only_and_are_resent_later(tracked, server):
    _track(tracked, server, [*HOSTILE, "mercado"])
    for platform, fault in HOSTILE.items():
        server.force_fault(platform, "/notices", fault)
    began = time.monotonic()
    counts = send_notices(tracked.settings, START)
    elapsed = time.monotonic() - began
    assert counts == {"sent": 1, "resent": 0, "listings": 8, "failed": 3}
    # one drip costs one deadline; the rest is quick (the 40 MB answer is cut at 64 KiB)
    assert elapsed < DEADLINE + 6, elapsed

    notices = _notices(tracked)
    assert notices["mercado"].status == "sent" and notices["mercado"].ticket.startswith("MC-")
    for platform in HOSTILE:
        assert notices[platform].status == "failed" and notices[platform].ticket is None
    assert "over the 200-character limit" in notices["chemdir"].failure
    assert "over the 65536-byte limit" in notices["tradehub"].failure
    assert "within the 2 s deadline" in notices["boardlist"].failure
    for n in notices.values():  # nothing of the huge answer (or any answer) is stored beyond the cap
        assert len(json.dumps(n.response)) < 64 * 1024 and len(n.failure or "") <= 500
        assert "padding" not in json.dumps(n.response) and "XXXX" not in json.dumps(n.response)

    _failures_are_shown(tracked, {p: notices[p].failure for p in HOSTILE})

    # the platforms recorded each notice once; a later run re-sends the failed ones with their key
    # and gets the recorded ticket in a clean answer, without a second notice on the platform
    assert sorted(n["platform"] for n in _received(server)) == sorted([*HOSTILE, "mercado"])
    assert send_notices(tracked.settings, START + dt.timedelta(days=1)) == {"sent": 0, "resent": 3, "listings": 0, "failed": 0}
    received = _received(server)
    assert len(received) == 4 and len({n["idempotency_key"] for n in received}) == 4
    assert {p: n.ticket for p, n in _notices(tracked).items()} == {n["platform"]: n["ticket"] for n in received}
    assert all(n.status == "sent" and n.failure is None for n in _notices(tracked).values())
    assert send_notices(tracked.settings, START + dt.timedelta(days=2)) == {"sent": 0, "resent": 0, "listings": 0, "failed": 0}


def _failures_are_shown(tracked, failures: dict[str, str]) -> None:
    """The reasons reach the notices export, the daily report and `pwatch notices failed`."""
    exported = json.loads((tracked.settings.data_path / "notices" / "notices.json").read_text())["notices"]
    assert {n["entity_notice_roles_attributes"][2]["entity_attributes"]["name"]:
            (n["status"], n["failure"]) for n in exported} == {**{p: ("failed", f) for p, f in failures.items()}, "mercado": ("sent", None)}
    folder = write_daily_report(tracked.settings, START).parent
    report = json.loads((folder / "flags.json").read_text())
    assert {n["platform"]: n["failure"] for n in report["notices_failed"]} == failures
    html = (folder / "index.html").read_text()
    assert "Notices not delivered (3" in html and "200-character limit" in html
    if tracked.settings.db_url.startswith("sqlite"):  # the CLI finds the SQLite file in the data dir
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["notices", "failed", "--format", "json", "--data-dir", str(tracked.settings.data_path)]) == 0
        assert {n["platform"]: n["failure"] for n in json.loads(out.getvalue())} == failures
