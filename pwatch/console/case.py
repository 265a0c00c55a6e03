"""One listing's case: everything an analyst needs to decide, read through storage's models."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.reports.queries import (
    Match,
    controls_in_force,
    distinct_substances,
    highlight_spans,
    merge_spans,
    parse_matches,
    parse_reasons,
)
from precursor_watch.storage.models import (
    Account,
    Detection,
    Event,
    Listing,
    Notice,
    NoticeListing,
    Platform,
    RelistLink,
    Review,
    Snapshot,
    Store,
)

OTHER_LISTINGS_SHOWN = 50


class CaseNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Substance:
    substance_id: str
    name: str
    matched: str
    controls: list[str]  # "jurisdiction: status (since date)" in force at the flag date


@dataclass(frozen=True)
class LinkedListing:
    listing_id: int
    listing_key: str
    title: str
    review: str
    presence: str
    note: str = ""  # e.g. relist method and similarity


@dataclass(frozen=True)
class EvidenceRef:
    warc_file: str
    record_id: str
    sha256: str
    target_uri: str


@dataclass
class Case:
    listing_id: int
    platform: str
    listing_key: str
    url: str
    review: str
    presence: str
    first_seen_on: dt.date
    last_seen_on: dt.date
    title_pieces: list[tuple[str, bool]]
    text_pieces: list[tuple[str, bool]]
    lang: str | None
    price: str | None
    score: float | None
    model_version: str | None
    flagged_on: dt.date | None
    reasons: list[str]
    substances: list[Substance]
    events: list[dict[str, Any]]
    notices: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    relisted_as: list[LinkedListing]
    relist_of: list[LinkedListing]
    account: str | None
    account_name: str | None
    store: str | None
    account_listings: list[LinkedListing] = field(default_factory=list)
    store_listings: list[LinkedListing] = field(default_factory=list)
    evidence: EvidenceRef | None = None


def pieces(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """The whole `text` as (segment, highlighted) pieces; spans are merged and sorted."""
    out, pos = [], 0
    for start, end in spans:
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def title_spans(title: str, matches: list[Match]) -> list[tuple[int, int]]:
    """Spans of matches the detector recorded in the title (its offsets, checked against the text)."""
    spans = []
    for m in matches:
        if m.field != "title" or m.start is None or m.end is None or not 0 <= m.start < m.end <= len(title):
            continue
        if not m.matched or title[m.start : m.end].lower() == m.matched.lower():
            spans.append((m.start, m.end))
    return merge_spans(spans)


def _substances(matches: list[Match], on: dt.date) -> list[Substance]:
    out = []
    for m in distinct_substances(matches):
        controls = [
            f"{c.jurisdiction}: {c.status}" + (f" (since {c.effective})" if c.effective else "")
            for c in controls_in_force(m, on)
        ]
        out.append(Substance(m.substance_id, m.name, m.matched, controls))
    return out


def _linked(session: Session, ids_notes: list[tuple[int, str]]) -> list[LinkedListing]:
    if not ids_notes:
        return []
    listings = {
        listing.id: listing
        for listing in session.scalars(select(Listing).where(Listing.id.in_([i for i, _ in ids_notes])))
    }
    return [
        LinkedListing(i, listings[i].listing_key, listings[i].title, listings[i].review, listings[i].presence, note)
        for i, note in ids_notes
        if i in listings
    ]


def _others(session: Session, column, value: int | None, listing_id: int) -> list[LinkedListing]:
    if value is None:
        return []
    ids = session.scalars(
        select(Listing.id)
        .where(column == value, Listing.id != listing_id)
        .order_by(Listing.id)
        .limit(OTHER_LISTINGS_SHOWN)
    )
    return _linked(session, [(i, "") for i in ids])


def _flag(session: Session, listing_id: int) -> tuple[Event | None, Detection | None, Snapshot | None]:
    event = session.scalar(
        select(Event).where(Event.listing_id == listing_id, Event.kind == "flagged").order_by(Event.id.desc()).limit(1)
    )
    detection = session.get(Detection, event.detection_id) if event and event.detection_id else None
    snapshot_id = detection.snapshot_id if detection else (event.snapshot_id if event else None)
    snapshot = session.get(Snapshot, snapshot_id) if snapshot_id else None
    if snapshot is None:
        snapshot = session.scalar(
            select(Snapshot).where(Snapshot.listing_id == listing_id).order_by(Snapshot.id.desc()).limit(1)
        )
    return event, detection, snapshot


def _events(session: Session, listing_id: int) -> list[dict[str, Any]]:
    # this listing's own events (ix_events_listing_id); relistings pointing here are in the relisting section
    rows = session.scalars(select(Event).where(Event.listing_id == listing_id).order_by(Event.id))
    return [
        {
            "kind": e.kind,
            "on": e.occurred_on,
            "cause": e.cause or "",
            "evidence_sha256": e.evidence_sha256 or "",
            "notice_id": e.notice_id,
            "review_id": e.review_id,
            "listing_id": e.listing_id,
            "related_listing_id": e.related_listing_id,
        }
        for e in rows
    ]


def _notices(session: Session, listing_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Notice)
        .join(NoticeListing, NoticeListing.notice_id == Notice.id)
        .where(NoticeListing.listing_id == listing_id)
        .order_by(Notice.id)
    )
    return [
        {
            "id": n.id,
            "ticket": n.ticket or "",
            "status": n.status,
            "sent_at": n.sent_at,
            "channel": n.channel,
            "failure": n.failure or "",
        }
        for n in rows
    ]


def _reviews(session: Session, listing_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(Review).where(Review.listing_id == listing_id).order_by(Review.id))
    return [
        {
            "decision": r.decision,
            "reviewer": r.reviewer,
            "at": r.decided_at,
            "note": r.note or "",
            "automated": r.automated,
        }
        for r in rows
    ]


def _relistings(session: Session, listing_id: int) -> tuple[list[LinkedListing], list[LinkedListing]]:
    links = session.scalars(
        select(RelistLink)
        .where((RelistLink.original_listing_id == listing_id) | (RelistLink.new_listing_id == listing_id))
        .order_by(RelistLink.id)
    ).all()
    note = lambda link: f"{link.method}, similarity {link.similarity:.2f}, {link.detected_on}"  # noqa: E731
    relisted_as = _linked(
        session, [(link.new_listing_id, note(link)) for link in links if link.original_listing_id == listing_id]
    )
    relist_of = _linked(
        session, [(link.original_listing_id, note(link)) for link in links if link.new_listing_id == listing_id]
    )
    return relisted_as, relist_of


def load_case(session: Session, listing_id: int) -> Case:
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise CaseNotFound(f"no listing with id {listing_id}")
    event, detection, snapshot = _flag(session, listing_id)
    matches = parse_matches(detection.substances if detection else [])
    reasons, anchors = parse_reasons(detection.reasons if detection else [])
    title = snapshot.title if snapshot else listing.title
    text = snapshot.text if snapshot else ""
    account = session.get(Account, listing.account_id) if listing.account_id else None
    store = session.get(Store, listing.store_id) if listing.store_id else None
    relisted_as, relist_of = _relistings(session, listing_id)
    on = event.occurred_on if event else listing.first_seen_on
    evidence = None
    if snapshot and snapshot.evidence_file and snapshot.evidence_record:
        evidence = EvidenceRef(
            snapshot.evidence_file,
            snapshot.evidence_record,
            snapshot.evidence_sha256 or "",
            snapshot.evidence_uri or "",
        )
    return Case(
        listing_id=listing.id,
        platform=session.get_one(Platform, listing.platform_id).name,
        listing_key=listing.listing_key,
        url=listing.url,
        review=listing.review,
        presence=listing.presence,
        first_seen_on=listing.first_seen_on,
        last_seen_on=listing.last_seen_on,
        title_pieces=pieces(title, title_spans(title, matches + anchors)),
        text_pieces=pieces(text, highlight_spans(text, matches + anchors)),
        lang=snapshot.lang if snapshot else None,
        price=" ".join(p for p in (snapshot.price, snapshot.currency) if p) if snapshot else None,
        score=float(detection.score) if detection else None,
        model_version=detection.model_version if detection else None,
        flagged_on=event.occurred_on if event else None,
        reasons=reasons,
        substances=_substances(matches, on),
        events=_events(session, listing_id),
        notices=_notices(session, listing_id),
        reviews=_reviews(session, listing_id),
        relisted_as=relisted_as,
        relist_of=relist_of,
        account=account.account_key if account else None,
        account_name=account.name if account else None,
        store=store.store_key if store else None,
        account_listings=_others(session, Listing.account_id, listing.account_id, listing_id),
        store_listings=_others(session, Listing.store_id, listing.store_id, listing_id),
        evidence=evidence,
    )


@dataclass(frozen=True)
class ArchivedPage:
    payload: bytes
    recorded_sha256: str
    actual_sha256: str

    @property
    def verified(self) -> bool:
        return bool(self.recorded_sha256) and self.recorded_sha256 == self.actual_sha256


def archived_page(data_dir: Path, evidence: EvidenceRef) -> ArchivedPage:
    """The exact archived payload bytes from the WARC record, and whether they hash as recorded."""
    from precursor_watch.contract import Evidence
    from precursor_watch.crawlers.warc import read_evidence

    payload = read_evidence(
        data_dir, Evidence(evidence.warc_file, evidence.record_id, evidence.sha256, evidence.target_uri)
    )
    return ArchivedPage(payload, evidence.sha256, hashlib.sha256(payload).hexdigest())
