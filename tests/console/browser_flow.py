"""Steps of the console's browser tests shared by the SQLite and PostgreSQL runs: log in, check a
page loaded clean (no console error, no request off the origin, nothing inline that could run,
a CSRF token in every posting form), walk the notices board and the statistics page."""

from __future__ import annotations

import json

# Every posting form and whether it carries a non-empty CSRF token; plus what could run.
FORMS = """JSON.stringify([...document.forms].filter(f => f.method === 'post').map(f => ({
  action: f.getAttribute('action'), token: (f.querySelector('input[name=csrf_token]') || {}).value || ''})))"""
HANDLERS = """JSON.stringify([...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))
  .filter(n => n.startsWith('on')))"""
PAGES = ("/queue", "/queue?group=seller", "/notices", "/stats", "/stats/explain?metric=flagged")


def clean(load, origin: str) -> None:
    assert load.errors == [], load.errors
    # data: URLs never leave the machine (Chromium's own date-picker icon is one)
    foreign = [u for u in load.requests if not u.startswith((origin + "/", "data:"))]
    assert foreign == [], foreign


def safe_page(browser) -> None:
    """No inline handlers, only the app's script, and every posting form carries the CSRF token."""
    assert json.loads(browser.evaluate(HANDLERS)) == []
    assert browser.evaluate("JSON.stringify([...document.scripts].map(s => s.getAttribute('src')))") == (
        '["/static/console.js"]'
    )
    forms = json.loads(browser.evaluate(FORMS))
    assert forms and all(len(f["token"]) >= 32 for f in forms), forms  # logout at least


def log_in(browser, origin: str, name: str, password: str, page: str = "/queue") -> None:
    load = browser.goto(origin + page)
    clean(load, origin)
    assert "/login" in load.url
    browser.evaluate("document.getElementById('name').focus()")
    browser.type_text(name)
    browser.evaluate("document.getElementById('password').focus()")
    browser.type_text(password)
    load = browser.submit("document.getElementById('login-form').requestSubmit()")
    clean(load, origin)
    assert load.url == origin + page, load.url


def log_out(browser, origin: str) -> None:
    load = browser.submit("document.getElementById('logout').click()")
    clean(load, origin)
    assert load.url.startswith(origin + "/login")


def every_page_needs_login(browser, origin: str) -> None:
    for page in PAGES:
        load = browser.goto(origin + page)
        clean(load, origin)
        assert "/login" in load.url, (page, load.url)


def board_and_statistics(browser, origin: str) -> dict:
    """Open the notices board and the statistics page, regroup by platform in the page's own form,
    follow the first non-zero number to its drill-down; returns what the pages showed."""
    load = browser.goto(origin + "/notices")
    clean(load, origin)
    safe_page(browser)
    totals = json.loads(browser.evaluate(
        "JSON.stringify(Object.fromEntries([...document.querySelectorAll('#board tr.total td[data-state]')]"
        ".map(c => [c.dataset.state, +c.textContent])))"))
    listed = int(browser.evaluate("document.querySelectorAll('#notice-list tr[data-notice-id]').length"))
    load = browser.goto(origin + "/stats")
    clean(load, origin)
    safe_page(browser)
    browser.evaluate("document.getElementById('s-by').value = 'platform'")
    load = browser.submit("document.getElementById('stats-form').requestSubmit()")
    clean(load, origin)
    assert "by=platform" in load.url
    cell = json.loads(browser.evaluate(
        "JSON.stringify([...document.querySelectorAll('#stats td[data-group] a')].filter(a => a.textContent !== '0' "
        "&& a.textContent !== '–').map(a => ({href: a.getAttribute('href'), text: a.textContent}))[0])"))
    load = browser.submit(f"document.querySelector('#stats a[href=\"{cell['href']}\"]').click()")
    clean(load, origin)
    safe_page(browser)
    assert "/stats/explain?" in load.url
    assert browser.evaluate("document.getElementById('explain-value').textContent") == cell["text"]
    members = int(browser.evaluate("document.querySelectorAll('#members tr[data-id]').length"))
    return {"totals": totals, "listed": listed, "members": members, "cell": cell}
