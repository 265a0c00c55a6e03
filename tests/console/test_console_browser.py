"""The console in real Chromium over a real run: log in, filter, decide by keyboard, bulk-dismiss a
seller, open a case and its archived page; hostile listings stay text; nothing leaves the origin."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.fixtures.texts.hostile import FORMULA_PREFIXES
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.models import Listing, Review, Snapshot
from tests.console.conftest import PASSWORDS
from tests.e2e.cdp import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Read the page from outside: inline handlers, scripts and where everything points.
PROBE = """JSON.stringify({
  handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name)).filter(n => n.startsWith('on')),
  scripts: [...document.scripts].map(s => s.getAttribute('src')),
  refs: [...document.querySelectorAll('[href],[src],[action]')].map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action')),
})"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live(console_run, tmp_path_factory):
    """`pwatch console` as its own process on a real port, over a copy of the run's data dir."""
    data = tmp_path_factory.mktemp("live") / "data"
    shutil.copytree(console_run, data, ignore=shutil.ignore_patterns(".lock"))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "precursor_watch", "console", "--port", str(port), "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(origin + "/login", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"console did not start: {proc.stdout.read() if proc.poll() is not None else 'timeout'}")
            time.sleep(0.2)
    yield origin, data
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def _db(data: Path):
    return make_engine(f"sqlite:///{data / 'pwatch.db'}")


def _reviews(data: Path, listing_id: int) -> list[tuple[str, str, str | None]]:
    engine = _db(data)
    try:
        with Session(engine) as s:
            return s.execute(select(Review.decision, Review.reviewer, Review.note).where(Review.listing_id == listing_id)).all()
    finally:
        engine.dispose()


def _clean(load, origin: str) -> None:
    assert load.errors == [], load.errors
    # data: URLs never leave the machine (Chromium's own date-picker icon is one)
    foreign = [u for u in load.requests if not u.startswith((origin + "/", "data:"))]
    assert foreign == [], foreign


def _inert(browser) -> dict:
    page = json.loads(browser.evaluate(PROBE))
    assert page["handlers"] == []
    assert page["scripts"] == ["/static/console.js"]
    assert all(r.startswith(("/", "?")) or r == "" for r in page["refs"] if r), page["refs"]
    return page


def _log_in(browser, origin: str) -> None:
    load = browser.goto(origin + "/queue")
    _clean(load, origin)
    assert "/login" in load.url
    browser.evaluate("document.getElementById('name').focus()")
    browser.type_text("ana")
    browser.evaluate("document.getElementById('password').focus()")
    browser.type_text(PASSWORDS["ana"])
    load = browser.submit("document.getElementById('login-form').requestSubmit()")
    _clean(load, origin)
    assert load.url == origin + "/queue"
    assert browser.evaluate("document.getElementById('who').textContent") == "ana (analyst)"


def _rows(browser) -> list[dict]:
    return json.loads(browser.evaluate(
        "JSON.stringify([...document.querySelectorAll('[data-queue-row]')].map(r => ({id: +r.dataset.listingId, "
        "platform: r.dataset.platform, score: +r.dataset.score, current: r.classList.contains('current')})))"))


def test_triage_by_keyboard_and_seller_in_chromium(live, browser):
    origin, data = live
    _log_in(browser, origin)
    rows = _rows(browser)
    assert len(rows) >= 3 and rows[0]["current"]
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    _inert(browser)

    platform = rows[0]["platform"]  # filter the queue in the page's own form
    browser.evaluate(f"document.getElementById('f-platform').value = {json.dumps(platform)}")
    load = browser.submit("document.getElementById('filters').requestSubmit()")
    _clean(load, origin)
    filtered = _rows(browser)
    assert filtered and {r["platform"] for r in filtered} == {platform}
    assert [r["id"] for r in filtered] == [r["id"] for r in rows if r["platform"] == platform][: len(filtered)]

    browser.press("j")
    browser.press("k")
    browser.press("j")
    second = _rows(browser)[1]
    assert second["current"]
    load = browser.press("c", navigates=True)
    _clean(load, origin)
    assert f"platform={platform}" in load.url  # back on the same filtered queue
    assert "1 listing(s) confirmed by ana" in browser.evaluate("document.getElementById('flash').textContent")
    assert _reviews(data, second["id"]) == [("confirmed", "ana", None)]
    assert second["id"] not in [r["id"] for r in _rows(browser)]

    first = _rows(browser)[0]
    browser.press("k")  # stays on the first row
    browser.press("n")
    browser.type_text("price list only, no offer")
    browser.press("Escape")
    load = browser.press("d", navigates=True)
    _clean(load, origin)
    assert _reviews(data, first["id"]) == [("dismissed", "ana", "price list only, no offer")]

    load = browser.goto(origin + "/queue?group=seller")
    _clean(load, origin)
    sellers = json.loads(browser.evaluate(
        "JSON.stringify([...document.querySelectorAll('section.seller')].map(s => ({account: s.dataset.account, "
        "ids: [...s.querySelectorAll('[data-queue-row]')].map(r => +r.dataset.listingId)})))"))
    seller = max((s for s in sellers if s["account"]), key=lambda s: len(s["ids"]))
    load = browser.submit(f"document.querySelector('section.seller[data-account={json.dumps(seller['account'])}] "
                          "form.bulk button.dismiss').click()")
    _clean(load, origin)
    assert f"{len(seller['ids'])} listing(s) dismissed by ana" in browser.evaluate("document.getElementById('flash').textContent")
    for listing_id in seller["ids"]:
        assert _reviews(data, listing_id) == [("dismissed", "ana", None)]  # one decision per listing


def _hostile_listing(data: Path) -> tuple[int, str, str]:
    engine = _db(data)
    try:
        with Session(engine) as s:
            rows = s.execute(select(Listing.id, Snapshot.title, Snapshot.text).join(Snapshot, Snapshot.listing_id == Listing.id)
                             .order_by(Listing.id)).all()
    finally:
        engine.dispose()
    hostile = [r for r in rows if r.title.startswith(tuple(p.strip()[:4] for p in FORMULA_PREFIXES)) and "<" in r.text]
    assert hostile, "the run holds no hostile listing"
    return hostile[0]


def test_case_page_and_archived_page_in_chromium(live, browser):
    origin, data = live
    if "/queue" not in browser.goto(origin + "/queue").url:
        _log_in(browser, origin)
    listing_id, title, text = _hostile_listing(data)
    load = browser.goto(f"{origin}/case/{listing_id}")
    _clean(load, origin)
    assert f"{origin}/case/{listing_id}/archived" in load.requests  # the archived page loaded, in its sandbox
    _inert(browser)
    shown_title = browser.evaluate("document.getElementById('case-title').textContent")
    assert shown_title == title.replace("\u202e", "[U+202E]").replace("\u202c", "[U+202C]")
    shown_text = browser.evaluate("document.getElementById('case-text').textContent")
    assert "<" in shown_text and shown_text.replace("[U+202E]", "\u202e").replace("[U+202C]", "\u202c") == text
    assert browser.evaluate("document.title").startswith("Case ")
    assert browser.evaluate("document.querySelectorAll('#case-text mark, #case-title mark').length") > 0
    # the sandboxed frame is another (opaque) origin: the case page cannot reach into it, nor it into us
    assert browser.evaluate("document.getElementById('archived').contentDocument === null")
    assert browser.evaluate("document.getElementById('archived').getAttribute('sandbox')") == ""
    recorded = browser.evaluate("document.getElementById('evidence-sha').textContent")
    digest = browser.call("Runtime.evaluate", {"expression": (
        f"fetch('/case/{listing_id}/archived?as=source').then(r => r.arrayBuffer()).then(b => crypto.subtle.digest('SHA-256', b))"
        ".then(d => [...new Uint8Array(d)].map(x => x.toString(16).padStart(2, '0')).join(''))"),
        "awaitPromise": True, "returnByValue": True}, session=True)["result"]["value"]
    assert len(recorded) == 64 and digest == recorded


def test_notices_board_and_statistics_in_chromium(live, browser):
    from tests.console.browser_flow import board_and_statistics, every_page_needs_login, log_in, log_out

    origin, _data = live
    if "/login" not in browser.goto(origin + "/queue").url:
        log_out(browser, origin)
    every_page_needs_login(browser, origin)
    log_in(browser, origin, "aud", PASSWORDS["aud"], page="/notices")
    shown = board_and_statistics(browser, origin)
    assert sum(shown["totals"].values()) == shown["listed"]  # this run sent no notice: an empty board
    assert shown["members"] > 0
    log_out(browser, origin)
