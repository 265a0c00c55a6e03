"""The console's security properties over a real run's data dir, through its HTTP interface."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from fastapi.routing import APIRoute

from precursor_watch.cli import main
from precursor_watch.console.security import ARCHIVE_CSP
from tests.console.conftest import PASSWORDS, pwatch
from tests.console.helpers import client, decisions_state, flagged_ids, logged_in, login, token


def _routes(app) -> list[tuple[str, str]]:
    return [(method, route.path) for route in app.routes if isinstance(route, APIRoute) for method in route.methods]


def test_every_page_and_action_without_a_session_is_refused(run_copy):
    c = client(run_copy.settings)
    listing = flagged_ids(run_copy.settings)[0]
    routes = _routes(c.app)
    assert len(routes) >= 10
    # the notices board, statistics, drill-down and evidence pack are in the sweep below
    assert {"/notices", "/stats", "/stats/explain", "/case/{listing_id}/pack"} <= {p for _m, p in routes}
    before = decisions_state(run_copy.settings)
    for method, path in routes:
        url = path.replace("{listing_id}", str(listing))
        if path in ("/login", "/favicon.ico"):
            continue
        if method == "GET":
            answer = c.get(url)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), (method, path)
        else:
            answer = c.post(url, data={"listing_id": str(listing), "decision": "confirmed", "name": "x", "role": "admin",
                                       "password": "long-enough-pass"})
            assert answer.status_code == 401, (method, path)
    assert c.get("/static/console.js").status_code == 200  # the app's own code is public; data is not
    assert decisions_state(run_copy.settings) == before


@pytest.mark.parametrize("sent", [None, "", "forged-token"])
def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(run_copy, sent):
    c = logged_in(run_copy.settings, "ana")
    listing = flagged_ids(run_copy.settings)[0]
    before = decisions_state(run_copy.settings)
    form = {"listing_id": str(listing), "decision": "confirmed", "next": "/queue"}
    if sent is not None:
        form["csrf_token"] = sent
    assert c.post("/decide", data=form).status_code == 403
    assert c.post("/logout", data={k: v for k, v in form.items() if k == "csrf_token"}).status_code == 403
    assert decisions_state(run_copy.settings) == before
    form["csrf_token"] = token(c, "/queue")  # the same request with the token goes through
    assert c.post("/decide", data=form).status_code == 303
    assert decisions_state(run_copy.settings) != before


def test_login_itself_needs_the_csrf_token(run_copy):
    c = client(run_copy.settings)
    c.get("/login")
    answer = c.post("/login", data={"name": "ana", "password": PASSWORDS["ana"]})
    assert answer.status_code == 403
    assert c.get("/queue").status_code == 303  # not logged in


def test_an_auditor_reads_everything_and_decides_nothing(run_copy):
    c = logged_in(run_copy.settings, "aud")
    listing = flagged_ids(run_copy.settings)[0]
    queue = c.get("/queue")
    assert queue.status_code == 200 and f'data-listing-id="{listing}"' in queue.text
    assert 'action="/decide"' not in queue.text
    assert c.get(f"/case/{listing}").status_code == 200
    for page in ("/notices", "/stats", "/stats?by=account", "/stats/explain?metric=flagged"):
        assert c.get(page).status_code == 200, page
    before = decisions_state(run_copy.settings)
    answer = c.post("/decide", data={"csrf_token": token(c, "/queue"), "listing_id": str(listing), "decision": "dismissed"})
    assert answer.status_code == 403
    assert decisions_state(run_copy.settings) == before
    assert c.get("/users").status_code == 403


def test_only_admins_manage_users(run_copy):
    analyst = logged_in(run_copy.settings, "ana")
    form = {"csrf_token": token(analyst, "/queue"), "name": "eve", "role": "admin", "password": "eve-password-1"}
    assert analyst.post("/users/add", data=form).status_code == 403
    admin = logged_in(run_copy.settings, "adm")
    form["csrf_token"] = token(admin, "/users")
    assert admin.post("/users/add", data=form).status_code == 303
    assert "eve" in admin.get("/users").text
    assert login(client(run_copy.settings), "eve", "eve-password-1").status_code == 303


def test_a_disabled_user_cannot_log_in_and_disabling_ends_a_session(run_copy):
    assert login(client(run_copy.settings), "off").status_code == 401
    c = logged_in(run_copy.settings, "ana")
    assert c.get("/queue").status_code == 200
    assert pwatch("users", "disable", "ana", data=run_copy.data).returncode == 0
    assert c.get("/queue").status_code == 303
    assert login(client(run_copy.settings), "ana").status_code == 401


def test_wrong_passwords_are_rate_limited_per_user_and_per_address(run_copy):
    c = client(run_copy.settings)
    for _ in range(5):
        assert login(c, "ana", "wrong-password").status_code == 401
    assert login(c, "ana").status_code == 429  # even the right password, for a while
    # per address: wrong passwords for many names from one client
    c2 = client(run_copy.settings)
    for name in ("n1", "n2", "n3", "n4", "n5"):
        assert login(c2, name, "wrong-password").status_code == 401
    assert login(c2, "aud").status_code == 429


def test_no_password_is_stored_or_logged_in_clear(run_copy, caplog):
    caplog.set_level(logging.DEBUG)
    c = client(run_copy.settings)
    login(c, "ana", "not-the-password-x")
    login(c, "aud")
    added = pwatch("users", "add", "zed", "--role", "auditor", data=run_copy.data, stdin="zed-secret-pass\n")
    assert added.returncode == 0
    raw = b"".join(p.read_bytes() for p in run_copy.data.glob("pwatch.db*"))
    rows = sqlite3.connect(run_copy.data / "pwatch.db").execute("SELECT name, password_hash FROM users").fetchall()
    assert rows and all(h.startswith("scrypt$32768$8$1$") for _, h in rows)
    assert len({h for _, h in rows}) == len(rows)  # salted: no two hashes alike
    for password in [*PASSWORDS.values(), "not-the-password-x", "zed-secret-pass"]:
        assert password.encode() not in raw
        assert password not in caplog.text and password not in added.stdout + added.stderr
    assert "ana" in caplog.text  # the log does name who tried


def test_binding_beyond_loopback_needs_a_secret(run_copy, capsys):
    assert main(["console", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(run_copy.data)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "console_secret" in err and "no default" in err
    from precursor_watch.console.server import build

    with pytest.raises(Exception, match="at least 32"):
        build(run_copy.settings.with_overrides(console_secret="short"), "0.0.0.0")
    assert build(run_copy.settings.with_overrides(console_secret="x" * 40), "0.0.0.0") is not None


def test_headers_on_every_response(run_copy):
    c = logged_in(run_copy.settings, "ana")
    listing = flagged_ids(run_copy.settings)[0]
    for path in ["/login", "/queue", "/queue?group=seller", f"/case/{listing}", "/static/console.js", "/nowhere", "/case/999999"]:
        answer = c.get(path)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
    archived = c.get(f"/case/{listing}/archived")
    assert archived.status_code == 200 and archived.headers["content-security-policy"] == ARCHIVE_CSP


def test_session_cookie_is_httponly_samesite_strict_and_signed(run_copy):
    c = client(run_copy.settings)
    c.get("/login")
    answer = login(c, "ana")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    value = c.cookies["pwatch_console"]
    c.cookies.set("pwatch_console", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert c.get("/queue").status_code == 303  # a tampered cookie is no session


def test_logout_ends_the_session(run_copy):
    c = logged_in(run_copy.settings, "ana")
    assert c.post("/logout", data={"csrf_token": token(c, "/queue")}).status_code == 303
    assert c.get("/queue").status_code == 303


def test_next_after_login_stays_on_this_site(run_copy):
    c = client(run_copy.settings)
    answer = c.post("/login", data={"csrf_token": token(c), "name": "ana", "password": PASSWORDS["ana"],
                                    "next": "//evil.example.invalid/x"})
    assert answer.status_code == 303 and answer.headers["location"] == "/queue"
