"""Sending takedown notices: one per platform for confirmed listings not yet reported.

The one module that decides "notice sent" (docs/ARCHITECTURE.md, "Where each decision lives").
What a notice says is rendered by `reports.notice_docs` from drafts read by `reports.notice_drafts`.

Never twice for the same listing and ground, even when rerun or killed midway:
1. the notice is recorded first (storage writes the notice, its listings and their `reported`
   events in one transaction; the stored request marks it pending) and committed;
2. then POSTed to `<platform origin>/notices` with the idempotency key;
3. the answer (ticket, body) is recorded.
A rerun re-sends every pending notice with its stored body and key (the platform answers the
same ticket for a key it has seen), and a reported listing is never selected again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import logging
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from precursor_watch.reports import ReportSettings
from precursor_watch.reports.notice_docs import legal_basis, legal_basis_text, request_body
from precursor_watch.reports.notice_drafts import draft_for, notifier_of
from precursor_watch.reports.notice_export import export_notices
from precursor_watch.storage.db import make_engine, session_scope
from precursor_watch.storage.kinds import NoticeStatus
from precursor_watch.storage.models import Listing, Notice, NoticeListing, Platform
from precursor_watch.storage.notices import (
    confirmed_unreported,
    record_notice,
    record_notice_failure,
    record_notice_response,
)
from precursor_watch.storage.types import logical_ts

log = logging.getLogger(__name__)

MAX_TICKET = 200  # the width of notices.ticket
TICKET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#-]*")


class NoticeSendError(Exception):
    """The platform's notice endpoint refused, could not be reached, or gave an answer we cannot
    accept (the notice is marked failed with this message and re-sent on a later run)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Limits:
    """What one notice request may cost us, whatever the platform does."""

    deadline: float = 30.0  # seconds for the whole request: connect, send, headers, answer
    max_answer_bytes: int = 64 * 1024  # a ticket answer is a few hundred bytes


def limits_of(settings: Any) -> Limits:
    return Limits(
        float(getattr(settings, "notice_deadline_seconds", None) or Limits.deadline),
        int(getattr(settings, "notice_answer_max_bytes", None) or Limits.max_answer_bytes),
    )


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NoticeSendError(f"listing URL {url!r} has no http(s) origin to send a notice to")
    return f"{parts.scheme}://{parts.netloc}"


def _read_capped(response: http.client.HTTPResponse, cap: int) -> bytes:
    """The answer body, refused as soon as it passes `cap` bytes (never read further)."""
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise NoticeSendError(f"answer of {int(declared)} bytes is over the {cap}-byte limit")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.read1(min(65536, cap + 1 - size))  # at most one recv: a drip cannot stall us here
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise NoticeSendError(f"answer is over the {cap}-byte limit")


def _abort(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    """Deadline reached: cut the connection, which wakes any blocked read."""
    expired.set()
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _answer(status: int, raw: bytes) -> Answer:
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        data = None
    if status >= 400:
        error = data.get("error") if isinstance(data, dict) else None
        raise NoticeSendError(f"HTTP {status}" + (f": {_short(error)}" if error else ""))
    if not isinstance(data, dict):
        raise NoticeSendError(f"HTTP {status} answer is not a JSON object")
    return Answer(status, data)


def _short(value: Any, limit: int = 120) -> str:
    text = "".join(c if c.isprintable() else "?" for c in str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def http_post(url: str, body: dict[str, Any], limits: Limits = Limits()) -> Answer:
    """POST JSON; the whole exchange must end within `limits.deadline` seconds and the answer stay
    within `limits.max_answer_bytes`, or NoticeSendError (a per-read timeout alone lets a platform
    that drips one byte at a time hold us for ever)."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.netloc, timeout=limits.deadline)
    expired = threading.Event()
    timer = threading.Timer(limits.deadline, _abort, (conn, expired))
    timer.daemon = True
    timer.start()
    response = None
    try:
        conn.request(
            "POST",
            parts.path or "/",
            body=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json", "Connection": "close"},
        )
        response = conn.getresponse()
        raw = _read_capped(response, limits.max_answer_bytes)
        if expired.is_set():  # the cut may look like a normal end of a short body
            raise OSError("deadline")
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            raise NoticeSendError(f"POST {url}: no complete answer within the {limits.deadline:g} s deadline") from None
        raise NoticeSendError(f"POST {url}: {_short(exc) or exc.__class__.__name__}") from None
    except NoticeSendError as exc:
        raise NoticeSendError(f"POST {url}: {exc}") from None
    finally:
        timer.cancel()
        # The response owns the socket once the connection hands it over ("Connection: close"):
        # close it here, or a refused answer keeps streaming or dripping into a socket that lives
        # as long as any reference to this frame (an exception kept by a caller, say).
        if response is not None:
            response.close()
        conn.close()
    try:
        return _answer(response.status, raw)
    except NoticeSendError as exc:
        raise NoticeSendError(f"POST {url}: {exc}") from None


def valid_ticket(answer: Answer) -> str:
    """The answer's ticket id, or NoticeSendError saying what is wrong with it (too long for the
    column, or characters a ticket id never has)."""
    ticket = answer.body.get("ticket")
    if isinstance(ticket, int) and not isinstance(ticket, bool):
        ticket = str(ticket)
    if not isinstance(ticket, str) or not ticket:
        raise NoticeSendError(f"answer {answer.status} has no ticket")
    if len(ticket) > MAX_TICKET:
        raise NoticeSendError(f"ticket of {len(ticket)} characters is over the {MAX_TICKET}-character limit")
    if not TICKET_RE.fullmatch(ticket):
        raise NoticeSendError(
            f"ticket {_short(ticket, 40)!r} has characters other than letters, digits and . _ : / # -"
        )
    return ticket


# -- sending -------------------------------------------------------------------------------------


def _unsent(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
    """(idempotency key, a listing URL, stored request body) of every notice not yet answered:
    pending (recorded, never answered) or failed on an earlier attempt."""
    out: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for key, response, url in session.execute(
        select(Notice.idempotency_key, Notice.response, Listing.url)
        .join(NoticeListing, NoticeListing.notice_id == Notice.id)
        .join(Listing, Listing.id == NoticeListing.listing_id)
        .where(Notice.status.in_((NoticeStatus.PENDING, NoticeStatus.FAILED)), Notice.channel == "http")
        .order_by(Notice.id, Listing.id)
    ):
        if isinstance(response, dict) and isinstance(response.get("request"), dict):
            out.setdefault(key, (key, url, response["request"]))
    return list(out.values())


def _deliver(engine, key: str, listing_url: str, body: dict[str, Any], post: Callable[[str, dict], Answer]) -> None:
    """POST one notice and store the outcome. Any failure (network, deadline, size, bad ticket,
    even storing the answer) marks this notice failed with the reason and raises NoticeSendError;
    it never touches another notice."""
    try:
        origin = origin_of(listing_url)  # the platform's notice endpoint lives on its listings' origin
        answer = post(f"{origin}/notices", body)
        ticket = valid_ticket(answer)
        with session_scope(engine) as session:
            record_notice_response(
                session,
                key,
                ticket=ticket,
                response={"http_status": answer.status, "answer": answer.body, "request": body},
            )
    except (NoticeSendError, SQLAlchemyError) as exc:
        reason = (
            _short(exc, 500) if isinstance(exc, NoticeSendError) else f"answer not stored: {exc.__class__.__name__}"
        )
        with session_scope(engine) as session:
            record_notice_failure(session, key, reason)
        raise NoticeSendError(reason) from None


def send_notices(
    settings: ReportSettings, day: dt.date, post: Callable[[str, dict], Answer] | None = None
) -> dict[str, int]:
    """Re-send pending and failed notices, then one new notice per platform for confirmed,
    unreported, live listings. Returns counts: sent (new notices answered), resent (earlier ones
    answered now), listings (listings in new notices), failed (marked failed, re-sent on a later
    run). Also rewrites `<data dir>/notices/` (notices.json, statements_of_reasons.csv, manifest)
    as of `day`."""
    limits = limits_of(settings)
    post = post or (lambda url, body: http_post(url, body, limits))
    counts: Counter[str] = Counter(sent=0, resent=0, listings=0, failed=0)
    engine = make_engine(settings.db_url)
    try:
        with session_scope(engine) as session:
            unsent = _unsent(session)
        for key, url, body in unsent:
            _count(counts, "resent", key, partial(_deliver, engine, key, url, body, post))
        with session_scope(engine) as session:
            platforms = list(session.scalars(select(Platform.name).order_by(Platform.name)))
        for platform in platforms:
            _new_notice(engine, settings, platform, day, post, counts)
        # Keep the exports current: Lumen-like JSON and DSA statement-of-reasons CSV of every notice.
        with session_scope(engine) as session:
            export_notices(session, settings, Path(settings.data_path) / "notices", day)
    finally:
        engine.dispose()
    return dict(counts)


def _count(counts: Counter[str], done: str, key: str, deliver: Callable[[], None]) -> None:
    try:
        deliver()
        counts[done] += 1
    except NoticeSendError as exc:
        counts["failed"] += 1
        log.warning("notice %s failed (re-sent on a later run): %s", key, exc)


def _new_notice(engine, settings: Any, platform: str, day: dt.date, post: Callable, counts: Counter[str]) -> None:
    with session_scope(engine) as session:
        ids = [r.id for r in confirmed_unreported(session, platform)]
        if not ids:
            return
        draft = draft_for(session, platform, ids, notifier_of(settings), day)
        body = request_body(draft)
        record_notice(
            session,
            platform=platform,
            listing_ids=ids,
            legal_basis=legal_basis_text(legal_basis(draft), limit=10_000),
            channel="http",
            idempotency_key=draft.idempotency_key,
            sent_at=logical_ts(day),
            ticket=None,
            response={"request": body},
        )
    # Committed as pending before the POST: a crash from here on is repaired by a rerun.
    counts["listings"] += len(ids)
    _count(
        counts,
        "sent",
        draft.idempotency_key,
        lambda: _deliver(engine, draft.idempotency_key, draft.items[0].url, body, post),
    )
