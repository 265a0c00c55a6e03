"""The console's pages and actions."""

from __future__ import annotations

import datetime as dt
import logging

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from precursor_watch.console import admin
from precursor_watch.console.board import notices_page
from precursor_watch.console.case import CaseNotFound, archived_page, load_case
from precursor_watch.console.decisions import DecisionRefused, decide_many
from precursor_watch.console.pack import pack_download
from precursor_watch.console.passwords import DUMMY_HASH, verify_password
from precursor_watch.console.queue import PAGE_SIZE, STATUSES, QueueFilters, QueueItem, queue_page, seller_groups
from precursor_watch.console.security import csrf_ok
from precursor_watch.console.stats import explain_page, stats_page
from precursor_watch.console.web import (
    DECIDERS,
    Forbidden,
    form_text,
    redirect,
    render,
    require_post,
    require_user,
    safe_next,
    state_of,
    with_param,
)
from precursor_watch.storage.users import find_user

log = logging.getLogger("precursor_watch.console")


def register(app: FastAPI) -> None:
    app.add_api_route("/", home, methods=["GET"])
    app.add_api_route("/favicon.ico", favicon, methods=["GET"])
    app.add_api_route("/login", login_page, methods=["GET"])
    app.add_api_route("/login", login, methods=["POST"])
    app.add_api_route("/logout", logout, methods=["POST"])
    app.add_api_route("/queue", queue, methods=["GET"])
    app.add_api_route("/decide", decide, methods=["POST"])
    app.add_api_route("/case/{listing_id}", case, methods=["GET"])
    app.add_api_route("/case/{listing_id}/archived", archived, methods=["GET"])
    app.add_api_route("/case/{listing_id}/pack", pack_download, methods=["GET"])
    app.add_api_route("/notices", notices_page, methods=["GET"])
    app.add_api_route("/stats", stats_page, methods=["GET"])
    app.add_api_route("/stats/explain", explain_page, methods=["GET"])

    admin.register(app)


def home(request: Request) -> Response:
    require_user(request)
    return redirect("/queue")


def favicon() -> Response:
    return Response(status_code=204)


def login_page(request: Request) -> Response:
    return render(request, "login.html", next=safe_next(request.query_params.get("next")), error=None)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login(request: Request) -> Response:
    form = await request.form()
    target = safe_next(form_text(form, "next"))
    if not csrf_ok(request.session, form_text(form, "csrf_token")):
        raise Forbidden("missing or wrong CSRF token")
    name, password = str(form.get("name") or ""), str(form.get("password") or "")
    limiter = state_of(request).limiter
    if limiter.blocked(name, _client(request)):
        log.warning("console login refused (rate limit) for user %r from %s", name, _client(request))
        return render(request, "login.html", status=429, next=target, error="Too many failed logins; try again later.")
    with Session(state_of(request).engine) as session:
        found = find_user(session, name)
    user, stored = found if found else (None, DUMMY_HASH)
    if not verify_password(password, stored) or user is None or user.disabled:
        limiter.failed(name, _client(request))
        log.warning("console login failed for user %r from %s", name, _client(request))
        return render(
            request, "login.html", status=401, next=target, error="Wrong name or password, or the user is disabled."
        )
    limiter.succeeded(name)
    request.session.clear()  # a fresh session (and CSRF token) at every login
    request.session["user_id"] = user.id
    log.info("console login: %s (%s) from %s", user.name, user.role, _client(request))
    return redirect(target)


async def logout(request: Request) -> Response:
    await require_post(request)
    request.session.clear()
    return redirect("/login")


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _int(text: str | None, default: int) -> int:
    try:
        return max(0, int(text)) if text else default
    except ValueError:
        return default


def filters_from(request: Request) -> QueueFilters:
    q = request.query_params
    status = q.get("status") or "flagged"
    return QueueFilters(
        platform=q.get("platform", ""),
        substance=q.get("substance", "").strip(),
        lang=q.get("lang", ""),
        min_score=_float(q.get("min_score")),
        seen_from=_date(q.get("seen_from")),
        seen_to=_date(q.get("seen_to")),
        status=status if status in STATUSES else "flagged",
    )


def queue(request: Request) -> Response:
    user = require_user(request)
    filters = filters_from(request)
    page = max(1, _int(request.query_params.get("page"), 1))
    grouped = request.query_params.get("group") == "seller"
    items: list[QueueItem]
    with Session(state_of(request).engine) as session:
        if grouped:
            groups, total = seller_groups(session, filters, page)
            items, per_page = [], 20
        else:
            items, total = queue_page(session, filters, page)
            groups, per_page = [], PAGE_SIZE
        choices = state_of(request).filter_menus(session)
    here = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    pages = max(1, -(-total // per_page))
    return render(
        request,
        "queue.html",
        user=user,
        filters=filters,
        items=items,
        groups=groups,
        grouped=grouped,
        total=total,
        page=page,
        pages=pages,
        choices=choices,
        statuses=STATUSES,
        here=here,
        focus=_int(request.query_params.get("focus"), 0),
        can_decide=user.role in DECIDERS,
        prev_url=with_param(here, page=page - 1, focus=None) if page > 1 else None,
        next_url=with_param(here, page=page + 1, focus=None) if page < pages else None,
    )


async def decide(request: Request) -> Response:
    user, form = await require_post(request, DECIDERS)
    target = safe_next(form_text(form, "next"))
    decision = str(form.get("decision") or "")
    note = str(form.get("note") or "").strip() or None
    try:
        ids = [int(v) for v in form.getlist("listing_id")]
    except ValueError:
        ids = []
    try:
        done = decide_many(state_of(request), ids, decision, user.name, note)
    except DecisionRefused as exc:
        request.session["flash"] = f"Nothing recorded: {exc}"
        return redirect(target)
    request.session["flash"] = f"{len(done)} listing(s) {decision} by {user.name}."
    focus = form.get("focus")
    return redirect(with_param(target, focus=focus) if focus and focus.isdigit() else target)


def case(request: Request, listing_id: int) -> Response:
    user = require_user(request)
    with Session(state_of(request).engine) as session:
        try:
            found = load_case(session, listing_id)
        except CaseNotFound as exc:
            return render(request, "error.html", status=404, user=user, message=str(exc))
    here = f"/case/{listing_id}"
    # Frame the archived page only when its WARC file is there (a missing file is said in the page).
    stored = found.evidence is not None and (state_of(request).settings.data_path / found.evidence.warc_file).is_file()
    return render(
        request, "case.html", user=user, case=found, here=here, can_decide=user.role in DECIDERS, stored=stored
    )


def archived(request: Request, listing_id: int) -> Response:
    """The archived page's exact bytes, under `sandbox; default-src 'none'` (nothing runs or loads)."""
    require_user(request)
    with Session(state_of(request).engine) as session:
        try:
            found = load_case(session, listing_id)
        except CaseNotFound:
            return Response("no such listing\n", status_code=404, media_type="text/plain")
    if found.evidence is None:
        return Response("no archived page for this listing\n", status_code=404, media_type="text/plain")
    try:
        page = archived_page(state_of(request).settings.data_path, found.evidence)
    except (LookupError, OSError) as exc:  # framable like the page itself, so the frame shows why
        headers = {"x-pwatch-archived": "1"}
        return Response(f"archived page unavailable: {exc}\n", 404, headers, media_type="text/plain")
    headers = {"x-pwatch-archived": "1", "X-Archived-SHA256": page.actual_sha256}
    as_source = request.query_params.get("as") == "source"
    return Response(
        page.payload,
        media_type="text/plain; charset=utf-8" if as_source else "text/html; charset=utf-8",
        headers=headers,
    )
