"""Sending notices against a real loopback endpoint: one per platform, never twice per listing."""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.enforcement.notices import send_notices
from precursor_watch.storage.models import Event, Notice, NoticeListing
from tests.reports.conftest import D0, item

ROOT = Path(__file__).resolve().parents[2]


def _setup(world, endpoint, n=3):
    items = [item("chemdir", endpoint.origin, f"CD{i}", D0, f"4-ANPP 99% lot {i}") for i in range(n)]
    world.crawl("chemdir", endpoint.origin, D0, items)
    for i in range(n):
        world.review(f"CD{i}", "confirmed", D0)


def _reported_counts(world):
    with Session(world.engine) as s:
        rows = s.execute(select(Event.listing_id).where(Event.kind == "reported")).scalars().all()
    return {lid: rows.count(lid) for lid in set(rows)}


def test_one_notice_per_platform_with_ticket_and_reported_events(world, endpoint):
    _setup(world, endpoint)
    counts = send_notices(world.settings, D0)
    assert counts == {"sent": 1, "resent": 0, "listings": 3, "failed": 0}
    assert len(endpoint.received) == 1
    body = endpoint.received[0]
    assert sorted(body["urls"]) == sorted(f"{endpoint.origin}/product/CD{i}.html" for i in range(3))
    assert {b["jurisdiction"] for b in body["legal_basis"]} == {"UN", "US"}  # XX is not yet in force
    with Session(world.engine) as s:
        notice = s.scalars(select(Notice)).one()
        assert notice.ticket == "T-0001" and notice.response["answer"]["ticket"] == "T-0001"
        assert len(s.scalars(select(NoticeListing)).all()) == 3
    assert sorted(_reported_counts(world).values()) == [1, 1, 1]
    exported = json.loads((world.settings.data_path / "notices" / "notices.json").read_text())["notices"]
    assert [n["ticket"] for n in exported] == ["T-0001"]
    # rerun: nothing new to send, nothing re-sent
    assert send_notices(world.settings, D0) == {"sent": 0, "resent": 0, "listings": 0, "failed": 0}
    assert len(endpoint.received) == 1


def test_unreachable_endpoint_marks_the_notice_failed_then_resends_same_key(world, endpoint):
    _setup(world, endpoint, n=2)
    endpoint.stop()  # platform down
    counts = send_notices(world.settings, D0)
    assert counts["failed"] == 1 and counts["sent"] == 0
    with Session(world.engine) as s:
        notice = s.scalars(select(Notice)).one()
        assert notice.ticket is None and notice.status == "failed" and "/notices" in notice.failure
        key = notice.idempotency_key
    endpoint.start()  # back on the same origin: the rerun sends the stored body with the same key
    counts = send_notices(world.settings, D0 + dt.timedelta(days=1))
    assert counts == {"sent": 0, "resent": 1, "listings": 0, "failed": 0}
    assert [b["idempotency_key"] for b in endpoint.received] == [key]
    assert sorted(_reported_counts(world).values()) == [1, 1]


SEND = """
import datetime as dt, sys
from tests.reports.conftest import ReportSettings
from precursor_watch.enforcement.notices import send_notices
from pathlib import Path
print(send_notices(ReportSettings(Path(sys.argv[1]), sys.argv[2]), dt.date.fromisoformat(sys.argv[3])), flush=True)
"""


def _notify_then_kill(world, endpoint, until):
    """Run notify in a subprocess, SIGKILL it once `until()` holds (the endpoint is stalling)."""
    proc = subprocess.Popen([sys.executable, "-c", SEND, str(world.settings.data_path), world.settings.db_url, D0.isoformat()],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not until() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    endpoint.stall = None
    endpoint.release.set()
    assert until(), "notify never reached the stalled endpoint"


def _pending_notice(world):
    with Session(world.engine) as s:
        return s.scalars(select(Notice)).first()


def test_killed_after_the_platform_recorded_it_never_sends_twice(world, endpoint):
    _setup(world, endpoint, n=2)
    endpoint.stall = "after_record"
    _notify_then_kill(world, endpoint, lambda: bool(endpoint.received))
    assert _pending_notice(world).ticket is None
    counts = send_notices(world.settings, D0)
    assert counts == {"sent": 0, "resent": 1, "listings": 0, "failed": 0}
    # the platform saw one notice (the re-send hit the same key and got the same ticket)
    assert len(endpoint.received) == 1
    assert _pending_notice(world).ticket == "T-0001"
    assert sorted(_reported_counts(world).values()) == [1, 1]
    # a listing confirmed later goes into a new notice, never the old listings again
    day2 = D0 + dt.timedelta(days=1)
    world.crawl("chemdir", endpoint.origin, day2, [item("chemdir", endpoint.origin, "CD9", day2, "4-ANPP new")])
    world.review("CD9", "confirmed", day2)
    assert send_notices(world.settings, day2)["listings"] == 1
    assert [len(b["urls"]) for b in endpoint.received] == [2, 1]
    assert endpoint.received[1]["urls"] == [f"{endpoint.origin}/product/CD9.html"]


def test_killed_before_the_platform_recorded_it_sends_once_on_rerun(world, endpoint):
    _setup(world, endpoint, n=1)
    endpoint.stall = "before_record"
    _notify_then_kill(world, endpoint, lambda: _pending_notice(world) is not None and endpoint.stall_seen)
    assert endpoint.received == [] and _pending_notice(world).ticket is None
    assert send_notices(world.settings, D0) == {"sent": 0, "resent": 1, "listings": 0, "failed": 0}
    assert [b["urls"] for b in endpoint.received] == [[f"{endpoint.origin}/product/CD0.html"]]
    assert sorted(_reported_counts(world).values()) == [1]


def _sor(world):
    import csv

    path = world.settings.data_path / "notices" / "statements_of_reasons.csv"
    return {row["platform_uid"]: row for row in csv.DictReader(path.open(encoding="utf-8"))}


def test_notices_say_when_the_decision_was_automated(world, endpoint):
    """Under the demo auto-confirm policy the notice, its export and its statements of reasons say
    the decision was automated; a listing an analyst confirmed is still said to be reviewed."""
    from precursor_watch.storage.reviews import auto_confirm_flags

    items = [item("chemdir", endpoint.origin, f"CD{i}", D0, f"4-ANPP 99% lot {i}") for i in range(3)]
    world.crawl("chemdir", endpoint.origin, D0, items)
    world.review("CD0", "confirmed", D0)
    with Session(world.engine) as s, s.begin():
        assert auto_confirm_flags(s, D0) == 2
    assert send_notices(world.settings, D0)["sent"] == 1
    (body,) = endpoint.received
    assert "2 of the 3 listings were confirmed automatically, without human review" in body["explanation"]
    assert body["explanation"].count("[confirmed automatically]") == 2
    sor = _sor(world)
    assert {k: r["automated_decision"] for k, r in sor.items()} == {
        "CD0": "DECISION_NOT_AUTOMATED", "CD1": "DECISION_FULLY_AUTOMATED", "CD2": "DECISION_FULLY_AUTOMATED"}
    assert "reviewed and confirmed by an analyst" in sor["CD0"]["illegal_content_explanation"]
    assert "without human review" in sor["CD1"]["illegal_content_explanation"]
    assert "analyst" not in sor["CD1"]["illegal_content_explanation"]
    exported = json.loads((world.settings.data_path / "notices" / "notices.json").read_text())["notices"]
    assert "confirmed automatically" in exported[0]["body"]


def test_a_fully_automated_notice_never_mentions_an_analyst(world, endpoint):
    from precursor_watch.storage.reviews import auto_confirm_flags

    world.crawl("chemdir", endpoint.origin, D0, [item("chemdir", endpoint.origin, "CD0", D0, "4-ANPP 99%")])
    with Session(world.engine) as s, s.begin():
        auto_confirm_flags(s, D0)
    send_notices(world.settings, D0)
    (body,) = endpoint.received
    assert "analyst" not in body["explanation"] and "(automated decision)" in body["explanation"]
    assert _sor(world)["CD0"]["automated_decision"] == "DECISION_FULLY_AUTOMATED"
