"""What a takedown notice says about its listings, read from the tracking database.

Reading only: the sender (`precursor_watch.enforcement.notices`) builds the draft it records and
POSTs from here, and the export (`reports.notice_export`) rebuilds the drafts of recorded notices
from here, so both describe a listing the same way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.reports import queries
from precursor_watch.reports.notice_docs import (
    GROUND,
    Control,
    EvidenceRecord,
    NoticeDraft,
    NoticeItem,
    Notifier,
    Substance,
)
from precursor_watch.storage.kinds import EventKind, ObservationKind
from precursor_watch.storage.models import Detection, Event, Listing, Observation, Review, Snapshot


def notifier_of(settings: Any) -> Notifier:
    return Notifier(
        getattr(settings, "notifier_name", None) or "Precursor Watch",
        getattr(settings, "notifier_email", None) or "notices@example.invalid",
    )


def _substances(detection_substances: Any) -> tuple[Substance, ...]:
    out: dict[str, Substance] = {}
    for m in queries.parse_matches(detection_substances):
        controls = tuple(Control(c.jurisdiction, c.status, c.effective, c.source) for c in m.controls)
        out.setdefault(m.substance_id, Substance(m.substance_id, m.name, controls))
    return tuple(out[k] for k in sorted(out))


def notice_items(session: Session, listing_ids: list[int]) -> list[NoticeItem]:
    """What a notice says about each listing: its flagged detection's substances and the evidence
    (WARC record, target URI, payload hash) of the flagged snapshot's page and of the latest live
    sighting."""
    listings = {listing.id: listing for listing in session.scalars(select(Listing).where(Listing.id.in_(listing_ids)))}
    flagged = {
        lid: (det, EvidenceRecord(ev_sha, ev_file, ev_record, ev_uri) if ev_sha else None, lang)
        for lid, det, ev_sha, ev_file, ev_record, ev_uri, lang in session.execute(
            select(
                Event.listing_id,
                Detection.substances,
                Event.evidence_sha256,
                Event.evidence_file,
                Event.evidence_record,
                Event.evidence_uri,
                Snapshot.lang,
            )
            .outerjoin(Detection, Detection.id == Event.detection_id)
            .outerjoin(Snapshot, Snapshot.id == Event.snapshot_id)
            .where(Event.kind == EventKind.FLAGGED, Event.listing_id.in_(listing_ids))
            .order_by(Event.id)
        )
    }
    automated = _automated_decisions(session, listing_ids)
    latest_seen: dict[int, EvidenceRecord] = {}
    for lid, sha, ev_file, ev_record, ev_uri in session.execute(
        select(
            Observation.listing_id,
            Observation.evidence_sha256,
            Observation.evidence_file,
            Observation.evidence_record,
            Observation.evidence_uri,
        )
        .where(
            Observation.listing_id.in_(listing_ids),
            Observation.kind == ObservationKind.SEEN,
            Observation.evidence_sha256.is_not(None),
        )
        .order_by(Observation.id)
    ):
        if lid is not None and sha is not None:  # the filters exclude NULL; this tells the type checker
            latest_seen[lid] = EvidenceRecord(sha, ev_file, ev_record, ev_uri)
    items = []
    # in the platform's listing-key order: our ids follow crawl ingest order, which varies run to run
    for lid in sorted(listing_ids, key=lambda i: listings[i].listing_key):
        listing = listings[lid]
        det, flagged_page, lang = flagged.get(lid, (None, None, None))
        # the flagged page and the latest live sighting; one record when both are the same capture
        records = tuple({(e.sha256, e.record_id): e for e in (flagged_page, latest_seen.get(lid)) if e}.values())
        items.append(
            NoticeItem(
                listing_id=lid,
                listing_key=listing.listing_key,
                url=listing.url,
                title=listing.title,
                listing_date=listing.first_seen_on,
                substances=_substances(det),
                evidence_sha256=tuple(dict.fromkeys(e.sha256 for e in records)),
                evidence=records,
                lang=lang,
                automated_decision=automated.get(lid, False),
            )
        )
    return items


def _automated_decisions(session: Session, listing_ids: list[int]) -> dict[int, bool]:
    """Per listing: was its latest review decided by a policy rather than a person?"""
    out: dict[int, bool] = {}
    for lid, automated in session.execute(
        select(Review.listing_id, Review.automated).where(Review.listing_id.in_(listing_ids)).order_by(Review.id)
    ):
        out[lid] = bool(automated)
    return out


def draft_for(session: Session, platform: str, listing_ids: list[int], notifier: Notifier, day: dt.date) -> NoticeDraft:
    return NoticeDraft(platform, GROUND, tuple(notice_items(session, listing_ids)), notifier, day)
