"""Sending takedown notices: one per platform for confirmed listings not yet reported.

Never twice for the same listing and ground, even when rerun or killed midway:
1. the notice is recorded first (storage writes the notice, its listings and their `reported`
   events in one transaction; the stored request marks it pending) and committed;
2. then POSTed to `<platform origin>/notices` with the idempotency key;
3. the answer (ticket, body) is recorded.
A rerun re-sends every pending notice with its stored body and key (the platform answers the
same ticket for a key it has seen), and a reported listing is never selected again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from reports import ReportSettings
from reports import queries
from reports.notice_docs import (
    GROUND,
    Control,
    NoticeDraft,
    NoticeItem,
    Notifier,
    Substance,
    legal_basis,
    legal_basis_text,
    request_body,
)
from storage.models import Detection, Event, Listing, Notice, NoticeListing, Observation, Platform, Snapshot
from storage.types import logical_ts

log = logging.getLogger(__name__)

PENDING = "pending"


class NoticeSendError(Exception):
    """The platform's notice endpoint refused or could not be reached (the notice stays pending)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def notifier_of(settings: Any) -> Notifier:
    return Notifier(
        getattr(settings, "notifier_name", None) or "Precursor Watch",
        getattr(settings, "notifier_email", None) or "notices@example.invalid",
    )


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NoticeSendError(f"listing URL {url!r} has no http(s) origin to send a notice to")
    return f"{parts.scheme}://{parts.netloc}"


def http_post(url: str, body: dict[str, Any], timeout: float = 30.0) -> Answer:
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read() or b"{}")
        except ValueError:
            detail = {}
        raise NoticeSendError(f"POST {url}: HTTP {exc.code} {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise NoticeSendError(f"POST {url}: {exc}") from None


# -- building drafts from the database -----------------------------------------------------------


def _substances(detection_substances: Any) -> tuple[Substance, ...]:
    out = {}
    for m in queries.parse_matches(detection_substances):
        controls = tuple(Control(c.jurisdiction, c.status, c.effective, c.source) for c in m.controls)
        out.setdefault(m.substance_id, Substance(m.substance_id, m.name, controls))
    return tuple(out[k] for k in sorted(out))


def notice_items(session: Session, listing_ids: list[int]) -> list[NoticeItem]:
    """What a notice says about each listing: its flagged detection's substances and the evidence
    hashes of the flagged snapshot's page and of the latest live sighting."""
    listings = {
        l.id: l for l in session.scalars(select(Listing).where(Listing.id.in_(listing_ids)))
    }
    flagged = {
        lid: (det, ev_sha, lang)
        for lid, det, ev_sha, lang in session.execute(
            select(Event.listing_id, Detection.substances, Event.evidence_sha256, Snapshot.lang)
            .outerjoin(Detection, Detection.id == Event.detection_id)
            .outerjoin(Snapshot, Snapshot.id == Event.snapshot_id)
            .where(Event.kind == "flagged", Event.listing_id.in_(listing_ids))
            .order_by(Event.id)
        )
    }
    latest_seen: dict[int, str] = {}
    for lid, sha in session.execute(
        select(Observation.listing_id, Observation.evidence_sha256)
        .where(Observation.listing_id.in_(listing_ids), Observation.kind == "seen", Observation.evidence_sha256.is_not(None))
        .order_by(Observation.id)
    ):
        latest_seen[lid] = sha
    items = []
    # in the platform's listing-key order: our ids follow crawl ingest order, which varies run to run
    for lid in sorted(listing_ids, key=lambda i: listings[i].listing_key):
        listing = listings[lid]
        det, ev_sha, lang = flagged.get(lid, (None, None, None))
        hashes = tuple(dict.fromkeys(h for h in (ev_sha, latest_seen.get(lid)) if h))
        items.append(
            NoticeItem(
                listing_id=lid,
                listing_key=listing.listing_key,
                url=listing.url,
                title=listing.title,
                listing_date=listing.first_seen_on,
                substances=_substances(det),
                evidence_sha256=hashes,
                lang=lang,
            )
        )
    return items


def draft_for(session: Session, platform: str, listing_ids: list[int], notifier: Notifier, day: dt.date) -> NoticeDraft:
    return NoticeDraft(platform, GROUND, tuple(notice_items(session, listing_ids)), notifier, day)


# -- sending -------------------------------------------------------------------------------------


def _pending(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
    """(idempotency key, a listing URL, stored request body) of every notice not yet answered."""
    out = []
    for key, response, url in session.execute(
        select(Notice.idempotency_key, Notice.response, Listing.url)
        .join(NoticeListing, NoticeListing.notice_id == Notice.id)
        .join(Listing, Listing.id == NoticeListing.listing_id)
        .where(Notice.ticket.is_(None), Notice.channel == "http")
        .order_by(Notice.id, Listing.id)
    ):
        if isinstance(response, dict) and response.get("status") == PENDING and key not in {k for k, *_ in out}:
            out.append((key, url, response["request"]))
    return out


def _deliver(engine, key: str, listing_url: str, body: dict[str, Any], post: Callable[[str, dict], Answer]) -> Answer:
    from storage.notices import record_notice_response

    origin = origin_of(listing_url)  # the platform's notice endpoint lives on its listings' origin
    answer = post(f"{origin}/notices", body)
    ticket = answer.body.get("ticket")
    if not ticket:
        raise NoticeSendError(f"POST {origin}/notices answered {answer.status} without a ticket: {answer.body}")
    with Session(engine) as session, session.begin():
        record_notice_response(
            session, key, ticket=str(ticket),
            response={"status": "sent", "http_status": answer.status, "answer": answer.body, "request": body},
        )
    return answer


def send_notices(settings: ReportSettings, day: dt.date, post: Callable[[str, dict], Answer] | None = None) -> dict[str, int]:
    """Re-send pending notices, then one new notice per platform for confirmed, unreported, live
    listings. Returns counts: sent (new notices answered), resent (pending ones answered),
    listings (listings in new notices), failed (left pending for the next run). Also rewrites
    `<data dir>/notices/` (notices.json, statements_of_reasons.csv, manifest) as of `day`."""
    from storage.db import make_engine
    from storage.notices import confirmed_unreported, record_notice

    post = post or http_post
    notifier = notifier_of(settings)
    counts: Counter[str] = Counter(sent=0, resent=0, listings=0, failed=0)
    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as session:
            pending = _pending(session)
        for key, url, body in pending:
            try:
                _deliver(engine, key, url, body, post)
                counts["resent"] += 1
            except NoticeSendError as exc:
                counts["failed"] += 1
                log.warning("notice %s still pending: %s", key, exc)
        with Session(engine) as session:
            platforms = list(session.scalars(select(Platform.name).order_by(Platform.name)))
        for platform in platforms:
            with Session(engine) as session, session.begin():
                ids = [r.id for r in confirmed_unreported(session, platform)]
                if not ids:
                    continue
                draft = draft_for(session, platform, ids, notifier, day)
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
                    response={"status": PENDING, "request": body},
                )
            # Committed as pending before the POST: a crash from here on is repaired by a rerun.
            counts["listings"] += len(ids)
            try:
                _deliver(engine, draft.idempotency_key, draft.items[0].url, body, post)
                counts["sent"] += 1
            except NoticeSendError as exc:
                counts["failed"] += 1
                log.warning("notice %s to %s left pending: %s", draft.idempotency_key, platform, exc)
        # Keep the exports current: Lumen-like JSON and DSA statement-of-reasons CSV of every notice.
        from reports.notice_export import export_notices

        with Session(engine) as session:
            export_notices(session, settings, Path(settings.data_path) / "notices", day)
    finally:
        engine.dispose()
    return dict(counts)
