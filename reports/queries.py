"""Read-only queries behind the reports, over storage's models (typed rows out, no HTML here).

Everything is "as of" a logical date: a report regenerated later for an earlier day shows that
day's state, derived from the events up to it by storage's state machine.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from precursor_watch.storage.kinds import EventKind, NoticeStatus, Presence, ReviewState
from precursor_watch.storage.models import (
    Account,
    CrawlRun,
    Detection,
    DetectionFailure,
    Event,
    Listing,
    Notice,
    NoticeListing,
    Platform,
    Quarantine,
    Snapshot,
    Store,
)
from precursor_watch.storage.state import UNSEEN, next_state

# -- substances as the detector recorded them ----------------------------------------------------


@dataclass(frozen=True)
class ControlStatus:
    jurisdiction: str
    status: str
    effective: dt.date | None
    source: str = ""


@dataclass(frozen=True)
class Match:
    substance_id: str
    name: str
    matched: str  # the words in the listing that matched
    start: int | None  # character offsets into `field` of the snapshot, when recorded
    end: int | None
    how: str = ""
    controls: tuple[ControlStatus, ...] = ()
    field: str = "text"  # "title" | "text" (the detector's per-field offsets)
    tier: str = ""


def _date_or_none(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _control(c: dict) -> ControlStatus:
    return ControlStatus(
        str(c["jurisdiction"]), str(c.get("status", "")), _date_or_none(c.get("effective")), str(c.get("source", ""))
    )


def parse_matches(substances: Any) -> list[Match]:
    """Detection.substances is a list of CAS ids or of dicts (the detector's SubstanceHit: id, name,
    tier, matched, field, start, end, how; optionally controls). Control entries missing from the
    stored hit come from the lexicon data (`reports.legal`)."""
    from precursor_watch.reports.legal import lexicon_controls

    out = []
    for entry in substances or []:
        if isinstance(entry, str):
            entry = {"id": entry}
        if not isinstance(entry, dict) or not entry.get("id"):
            continue
        sid = str(entry["id"])
        start, end = entry.get("start"), entry.get("end")
        offsets = entry.get("offsets")
        if start is None and isinstance(offsets, (list, tuple)) and len(offsets) == 2:
            start, end = offsets
        raw = entry.get("controls") or entry.get("control") or lexicon_controls(sid)
        controls = tuple(_control(c) for c in raw if isinstance(c, dict) and c.get("jurisdiction"))
        out.append(
            Match(
                substance_id=sid,
                name=str(entry.get("name") or sid),
                matched=str(entry.get("matched") or entry.get("text") or entry.get("matched_text") or ""),
                start=start if isinstance(start, int) else None,
                end=end if isinstance(end, int) else None,
                how=str(entry.get("how") or entry.get("match") or ""),
                controls=controls,
                field=str(entry.get("field") or "text"),
                tier=str(entry.get("tier") or ""),
            )
        )
    return out


def distinct_substances(matches: Iterable[Match]) -> list[Match]:
    """One match per substance id (the first), in order."""
    seen: dict[str, Match] = {}
    for m in matches:
        seen.setdefault(m.substance_id, m)
    return list(seen.values())


def parse_reasons(reasons: Any) -> tuple[list[str], list[Match]]:
    """Reason messages, and their anchored words as highlight-only matches (signals like "stealth
    shipping" are highlighted in the snippet too)."""
    messages, anchors = [], []
    for r in reasons or []:
        if isinstance(r, dict):
            messages.append(str(r.get("message") or r))
            if r.get("matched"):
                anchors.append(
                    Match(
                        "",
                        "",
                        str(r["matched"]),
                        r.get("start") if isinstance(r.get("start"), int) else None,
                        r.get("end") if isinstance(r.get("end"), int) else None,
                        field=str(r.get("field") or "text"),
                    )
                )
        else:
            messages.append(str(r))
    return messages, anchors


def controls_in_force(match: Match, on: dt.date) -> list[ControlStatus]:
    return [c for c in match.controls if c.effective is None or c.effective <= on]


# -- evidence snippet with highlights ------------------------------------------------------------


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with overlapping or touching ones joined."""
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def highlight_spans(text: str, matches: Iterable[Match]) -> list[tuple[int, int]]:
    """Character spans of matched words: recorded offsets when they fit the text, else a search."""
    spans = []
    lowered = text.lower()
    for m in matches:
        if (
            m.field == "text"
            and m.start is not None
            and m.end is not None
            and 0 <= m.start < m.end <= len(text)
            and (not m.matched or text[m.start : m.end].lower() == m.matched.lower())
        ):
            spans.append((m.start, m.end))
            continue
        needle = (m.matched or "").lower()
        if needle:
            at = lowered.find(needle)
            if at >= 0:
                spans.append((at, at + len(needle)))
    return merge_spans(spans)


def snippet(text: str, spans: list[tuple[int, int]], width: int = 240) -> list[tuple[str, bool]]:
    """A window of `text` around the first match, as (segment, highlighted) pieces."""
    if not spans:
        cut = text[:width]
        return [(cut + ("…" if len(text) > width else ""), False)]
    start = max(0, spans[0][0] - width // 3)
    end = min(len(text), start + width)
    pieces: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        if s > pos:
            pieces.append((text[pos:s], False))
        pieces.append((text[s:e], True))
        pos = e
    if pos < end:
        pieces.append((text[pos:end], False))
    if end < len(text):
        pieces.append(("…", False))
    return pieces


# -- flags ---------------------------------------------------------------------------------------


@dataclass
class FlagRow:
    listing_id: int
    platform: str
    listing_key: str
    title: str
    url: str
    account: str | None
    account_name: str | None
    store: str | None
    first_seen_on: dt.date
    flagged_on: dt.date
    score: float
    reasons: list[str]
    matches: list[Match]
    snippet: list[tuple[str, bool]]
    status: str  # review / presence as of the report day
    evidence_sha256: str | None
    lang: str | None
    notice_id: int | None = None
    ticket: str | None = None

    @property
    def snippet_text(self) -> str:
        return "".join(piece for piece, _ in self.snippet)

    @property
    def highlighted(self) -> list[str]:
        return [piece for piece, hit in self.snippet if hit]


def states_as_of(
    session: Session, day: dt.date, listing_ids: Iterable[int] | None = None
) -> dict[int, tuple[str, str]]:
    """(review, presence) per listing from its events up to `day`, through the state machine."""
    query = select(Event.listing_id, Event.kind).where(Event.listing_id.is_not(None), Event.occurred_on <= day)
    if listing_ids is not None:
        ids = list(listing_ids)
        if not ids:
            return {}
        query = query.where(Event.listing_id.in_(ids))
    states: dict[int, Any] = defaultdict(lambda: UNSEEN)
    for lid, kind in session.execute(query.order_by(Event.id)):
        if lid is not None:  # the query excludes NULL; this tells the type checker
            states[lid] = next_state(states[lid], kind)
    return {lid: (s.review, s.presence) for lid, s in states.items()}


def flag_rows(session: Session, day: dt.date) -> list[FlagRow]:
    """Every listing flagged on or before `day`, highest score first, with its state on `day`."""
    flagged = session.execute(
        select(Event.listing_id, func.max(Event.id))
        .where(Event.kind == EventKind.FLAGGED, Event.occurred_on <= day, Event.listing_id.is_not(None))
        .group_by(Event.listing_id)
    ).all()
    if not flagged:
        return []
    event_ids = [eid for _, eid in flagged]
    rows = session.execute(
        select(Event, Listing, Platform.name, Account, Store, Detection, Snapshot)
        .join(Listing, Listing.id == Event.listing_id)
        .join(Platform, Platform.id == Listing.platform_id)
        .outerjoin(Account, Account.id == Listing.account_id)
        .outerjoin(Store, Store.id == Listing.store_id)
        .outerjoin(Detection, Detection.id == Event.detection_id)
        .outerjoin(Snapshot, Snapshot.id == func.coalesce(Detection.snapshot_id, Event.snapshot_id))
        .where(Event.id.in_(event_ids))
    ).all()
    ids = [listing.id for _, listing, *_ in rows]
    states = states_as_of(session, day, ids)
    notices = latest_notice_per_listing(session, day, ids)
    out = []
    for event, listing, platform, account, store, detection, snap in rows:
        matches = parse_matches(detection.substances if detection else [])
        reasons, anchors = parse_reasons(detection.reasons if detection else [])
        text = snap.text if snap else ""
        review, presence = states.get(listing.id, (ReviewState.FLAGGED, Presence.ACTIVE))
        notice = notices.get(listing.id)
        out.append(
            FlagRow(
                listing_id=listing.id,
                platform=platform,
                listing_key=listing.listing_key,
                title=snap.title if snap else listing.title,
                url=listing.url,
                account=account.account_key if account else None,
                account_name=account.name if account else None,
                store=store.store_key if store else None,
                first_seen_on=listing.first_seen_on,
                flagged_on=event.occurred_on,
                score=float(detection.score) if detection else 0.0,
                reasons=reasons,
                matches=distinct_substances(matches),
                snippet=snippet(text, highlight_spans(text, matches + anchors)),
                status=f"{review} / {presence}",
                evidence_sha256=event.evidence_sha256 or (snap.evidence_sha256 if snap else None),
                lang=snap.lang if snap else None,
                notice_id=notice[0] if notice else None,
                ticket=notice[1] if notice else None,
            )
        )
    out.sort(key=lambda r: (-r.score, r.platform, r.listing_key))
    return out


def latest_notice_per_listing(session: Session, day: dt.date, ids: list[int]) -> dict[int, tuple[int, str | None]]:
    out: dict[int, tuple[int, str | None]] = {}
    if not ids:
        return out
    for lid, nid, ticket in session.execute(
        select(NoticeListing.listing_id, Notice.id, Notice.ticket)
        .join(Notice, Notice.id == NoticeListing.notice_id)
        .where(NoticeListing.listing_id.in_(ids))
        .order_by(Notice.id)
    ):
        out[lid] = (nid, ticket)
    return out


# -- what happened on a day ----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    kind: str
    platform: str
    listing_id: int | None
    listing_key: str | None
    title: str | None
    url: str | None
    cause: str | None
    evidence_sha256: str | None
    related_url: str | None = None


CHANGE_KINDS = (
    EventKind.FLAGGED,
    EventKind.CONFIRMED,
    EventKind.DISMISSED,
    EventKind.REPORTED,
    EventKind.REMOVAL_OBSERVED,
    EventKind.REAPPEARED,
    EventKind.RELISTED_AS,
    EventKind.ACCOUNT_CLOSED,
    EventKind.STORE_CLOSED,
    EventKind.PLATFORM_CLOSED,
)


def changes_on(session: Session, day: dt.date) -> list[Change]:
    """Tracking events of `day` that an analyst cares about (not first_seen / changed)."""
    related = Listing.__table__.alias("related")
    rows = session.execute(
        select(Event, Platform.name, Listing.listing_key, Listing.title, Listing.url, related.c.url)
        .join(Platform, Platform.id == Event.platform_id)
        .outerjoin(Listing, Listing.id == Event.listing_id)
        .outerjoin(related, related.c.id == Event.related_listing_id)
        .outerjoin(Account, Account.id == Event.account_id)
        .outerjoin(Store, Store.id == Event.store_id)
        .where(Event.occurred_on == day, Event.kind.in_(CHANGE_KINDS))
        # by the platforms' own keys: event ids follow crawl ingest order, which varies run to run
        .order_by(
            Event.kind,
            Platform.name,
            Listing.listing_key,
            related.c.url,
            Account.account_key,
            Store.store_key,
            Event.id,
        )
    ).all()
    order: dict[str, int] = {k: i for i, k in enumerate(CHANGE_KINDS)}
    out = [
        Change(e.kind, platform, e.listing_id, key, title, url, e.cause, e.evidence_sha256, rel_url)
        for e, platform, key, title, url, rel_url in rows
    ]
    out.sort(key=lambda c: order[c.kind])
    return out


def events_per_day(session: Session, kind: EventKind, until: dt.date) -> list[tuple[dt.date, int]]:
    rows = session.execute(
        select(Event.occurred_on, func.count())
        .where(Event.kind == kind, Event.occurred_on <= until)
        .group_by(Event.occurred_on)
        .order_by(Event.occurred_on)
    ).all()
    return [(d, n) for d, n in rows]


def first_event_day(session: Session) -> dt.date | None:
    return session.scalar(select(func.min(Event.occurred_on)))


# -- quarantined items ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QuarantinedRow:
    """An item of the day's crawls that could not be stored; every text is as the page gave it."""

    platform: str
    kind: str
    field: str | None
    url: str
    listing_key: str | None
    message: str
    evidence_sha256: str | None


def quarantined_on(session: Session, day: dt.date) -> list[QuarantinedRow]:
    """The quarantine rows of the crawl runs of `day` (one per run and URL), by platform and URL."""
    rows = session.execute(
        select(
            Platform.name,
            Quarantine.kind,
            Quarantine.field,
            Quarantine.url,
            Quarantine.listing_key,
            Quarantine.message,
            Quarantine.evidence_sha256,
        )
        .join(CrawlRun, CrawlRun.id == Quarantine.crawl_run_id)
        .join(Platform, Platform.id == Quarantine.platform_id)
        .where(CrawlRun.crawl_date == day)
        .order_by(Platform.name, Quarantine.url, Quarantine.id)
    ).all()
    return [QuarantinedRow(*row) for row in rows]


# -- crawl health ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnhealthyRun:
    """A crawl of the day that never counts toward absence (failed fetches, quarantine, layout drift)."""

    platform: str
    pages: int
    error_rate: float
    closed: bool


def unhealthy_runs_on(session: Session, day: dt.date) -> list[UnhealthyRun]:
    rows = session.execute(
        select(Platform.name, CrawlRun.pages, CrawlRun.error_rate, CrawlRun.closed)
        .join(Platform, Platform.id == CrawlRun.platform_id)
        .where(CrawlRun.crawl_date == day, CrawlRun.healthy.is_(False))
        .order_by(Platform.name)
    ).all()
    return [UnhealthyRun(*row) for row in rows]


# -- notices overdue -----------------------------------------------------------------------------


@dataclass
class OverdueNotice:
    notice_id: int
    platform: str
    ticket: str | None
    sent_on: dt.date
    days_open: int
    open_listings: list[tuple[str, str]] = field(default_factory=list)  # (listing_key, url)


def overdue_notices(session: Session, day: dt.date, overdue_days: int) -> list[OverdueNotice]:
    """Notices reported more than `overdue_days` before `day` with a listing whose removal has not
    been observed by `day` (a removal observed before the notice does not count)."""
    reported = session.execute(
        select(
            Event.notice_id,
            Event.listing_id,
            Event.occurred_on,
            Platform.name,
            Notice.ticket,
            Listing.listing_key,
            Listing.url,
        )
        .join(Platform, Platform.id == Event.platform_id)
        .join(Notice, Notice.id == Event.notice_id)
        .join(Listing, Listing.id == Event.listing_id)
        .where(Event.kind == EventKind.REPORTED, Event.occurred_on <= day - dt.timedelta(days=overdue_days))
        .order_by(Event.notice_id, Listing.listing_key)
    ).all()
    if not reported:
        return []
    removed_after: dict[int, list[dt.date]] = defaultdict(list)
    for lid, on in session.execute(
        select(Event.listing_id, Event.occurred_on).where(
            Event.kind == EventKind.REMOVAL_OBSERVED,
            Event.occurred_on <= day,
            Event.listing_id.in_({r[1] for r in reported}),
        )
    ):
        if lid is not None:  # the IN filter excludes NULL; this tells the type checker
            removed_after[lid].append(on)
    out: dict[int, OverdueNotice] = {}
    for nid, lid, on, platform, ticket, key, url in reported:
        if nid is None or lid is None:  # excluded by the inner joins; this tells the type checker
            continue
        if any(r >= on for r in removed_after.get(lid, [])):
            continue
        item = out.setdefault(nid, OverdueNotice(nid, platform, ticket, on, (day - on).days))
        item.open_listings.append((key, url))
    return sorted(out.values(), key=lambda n: (-n.days_open, n.notice_id))


@dataclass(frozen=True)
class FailedNotice:
    notice_id: int
    platform: str
    sent_on: dt.date
    failure: str


def failed_notices(session: Session, day: dt.date | None = None) -> list[FailedNotice]:
    """Notices (recorded by `day`) whose last delivery attempt failed: re-sent on the next run."""
    query = (
        select(Notice.id, Platform.name, Notice.sent_at, Notice.failure)
        .join(Platform, Platform.id == Notice.platform_id)
        .where(Notice.status == NoticeStatus.FAILED)
        .order_by(Notice.id)
    )
    rows = [FailedNotice(nid, p, at.date(), failure or "") for nid, p, at, failure in session.execute(query)]
    return [r for r in rows if day is None or r.sent_on <= day]


def latest_event_day(session: Session) -> dt.date | None:
    return session.scalar(select(func.max(Event.occurred_on)))


@dataclass(frozen=True)
class FailedDetection:
    platform: str
    listing_key: str
    url: str
    title: str
    snapshot_id: int
    model_version: str
    reason: str


def failed_detections_on(session: Session, day: dt.date) -> list[FailedDetection]:
    """Snapshots the detector could not judge on `day` (retried by the next detect run)."""
    rows = session.execute(
        select(
            Platform.name,
            Listing.listing_key,
            Listing.url,
            Listing.title,
            DetectionFailure.snapshot_id,
            DetectionFailure.model_version,
            DetectionFailure.reason,
        )
        .join(Snapshot, Snapshot.id == DetectionFailure.snapshot_id)
        .join(Listing, Listing.id == Snapshot.listing_id)
        .join(Platform, Platform.id == Listing.platform_id)
        .where(DetectionFailure.failed_on == day)
        .order_by(Platform.name, Listing.listing_key, DetectionFailure.snapshot_id)
    )
    return [FailedDetection(*row) for row in rows]
