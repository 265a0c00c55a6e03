"""The console in real Chromium on PostgreSQL: the bench world (flags, confirmed listings, notices
in every state, removals) in a schema of its own, `pwatch console` as its own process over it.
Log in, filter the queue, confirm by keyboard, open a case, walk the notices board and the
statistics page; every page clean (no console error, no request off the origin, a CSRF token in
every form), every page refused without a session."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from bench.console import build as build_world
from precursor_watch.console.passwords import hash_password
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.models import Review
from precursor_watch.storage.notices import notice_board
from precursor_watch.storage.reviews import logical_day
from precursor_watch.storage.users import add_user
from tests.console.browser_flow import board_and_statistics, clean, every_page_needs_login, log_in, log_out, safe_page
from tests.console.test_console_browser import _free_port
from tests.e2e.cdp import Browser
from tests.storage.conftest import PG_BASE

pytestmark = [pytest.mark.postgres, pytest.mark.browser, pytest.mark.slow]
USERS = {"ana": ("analyst", "analyst-pass-1"), "aud": ("auditor", "auditor-pass-1")}


@pytest.fixture(scope="module")
def pg_live(tmp_path_factory):
    schema = f"pw_cbrowser_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    data = tmp_path_factory.mktemp("pg-live")
    build_world(data, 1000, 3000, url)
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        for name, (role, password) in USERS.items():
            add_user(s, name, role, hash_password(password), dt.datetime.now(dt.UTC))
    port = _free_port()
    env = {"PATH": "/usr/bin:/bin", "PWATCH_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "precursor_watch", "console", "--port", str(port), "--data-dir",
                             str(data)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**env})
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(origin + "/login", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"console did not start: {proc.stdout.read() if proc.poll() is not None else 'timeout'}")
            time.sleep(0.3)
    try:
        yield origin, engine
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def test_triage_board_and_statistics_on_postgres_in_chromium(pg_live, browser):
    origin, engine = pg_live
    every_page_needs_login(browser, origin)
    log_in(browser, origin, "ana", USERS["ana"][1])
    safe_page(browser)
    rows = json.loads(browser.evaluate(
        "JSON.stringify([...document.querySelectorAll('[data-queue-row]')].map(r => ({id: +r.dataset.listingId, "
        "platform: r.dataset.platform})))"))
    platform = rows[0]["platform"]
    browser.evaluate(f"document.getElementById('f-platform').value = {json.dumps(platform)}")
    load = browser.submit("document.getElementById('filters').requestSubmit()")
    clean(load, origin)
    first = json.loads(browser.evaluate("JSON.stringify(+document.querySelector('[data-queue-row]').dataset.listingId)"))
    load = browser.press("c", navigates=True)
    clean(load, origin)
    with Session(engine) as s:
        assert s.execute(select(Review.decision, Review.reviewer).where(Review.listing_id == first)).all() == [
            ("confirmed", "ana")]
    load = browser.goto(f"{origin}/case/{first}")
    clean(load, origin)
    safe_page(browser)
    assert browser.evaluate("document.getElementById('case-status').textContent").startswith("confirmed")
    log_out(browser, origin)

    log_in(browser, origin, "aud", USERS["aud"][1], page="/notices")
    shown = board_and_statistics(browser, origin)
    with Session(engine) as s:
        board = notice_board(s, logical_day(s), 7)
    assert shown["totals"] == {state: sum(1 for n in board if n.state == state) for state in shown["totals"]}
    assert {k for k, v in shown["totals"].items() if v} >= {"pending", "acknowledged", "overdue"}
    assert shown["listed"] == len(board) and shown["members"] > 0
    log_out(browser, origin)
