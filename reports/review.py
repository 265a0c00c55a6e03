"""Analyst review, reading side: the queue, one listing's case file, and labelled-data export.

Recording a decision (confirm / dismiss) is `precursor_watch.enforcement.review.decide`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.reports import queries
from precursor_watch.storage.kinds import EventKind, ReviewDecision, ReviewState
from precursor_watch.storage.models import Account, Detection, Event, Listing, Platform, Review, Snapshot


class ReviewError(Exception):
    """Unknown listing or a decision the state machine forbids (one clear line for the CLI).
    Raised here for reading and by `enforcement.review.decide` for writing."""


@dataclass(frozen=True)
class QueueRow:
    listing_id: int
    platform: str
    listing_key: str
    title: str
    score: float
    review: str
    flagged_on: dt.date


def queue(session: Session, status: str = ReviewState.FLAGGED, limit: int | None = None) -> list[QueueRow]:
    """Listings in review state `status` (default: flagged, awaiting a decision), best score first."""
    rows = session.execute(
        select(
            Listing.id,
            Platform.name,
            Listing.listing_key,
            Listing.title,
            Detection.score,
            Listing.review,
            Event.occurred_on,
        )
        .join(Platform, Platform.id == Listing.platform_id)
        .join(Event, (Event.listing_id == Listing.id) & (Event.kind == EventKind.FLAGGED))
        .outerjoin(Detection, Detection.id == Event.detection_id)
        .where(Listing.review == status)
        .order_by(Detection.score.desc(), Listing.id)
    ).all()
    seen, out = set(), []
    for lid, platform, key, title, score, review, on in rows:
        if lid not in seen:
            seen.add(lid)
            out.append(QueueRow(lid, platform, key, title, float(score or 0), review, on))
    return out[:limit] if limit else out


def case_file(session: Session, listing_id: int, day: dt.date | None = None) -> dict[str, Any]:
    """Everything an analyst needs to decide: listing, flag details, events and earlier reviews."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise ReviewError(f"no listing with id {listing_id}")
    platform = session.get_one(Platform, listing.platform_id)
    account = session.get(Account, listing.account_id) if listing.account_id else None
    day = day or dt.date.max
    flag = next((f for f in queries.flag_rows(session, day) if f.listing_id == listing_id), None)
    snap = session.scalars(
        select(Snapshot).where(Snapshot.listing_id == listing_id).order_by(Snapshot.id.desc())
    ).first()
    return {
        "id": listing.id,
        "platform": platform.name,
        "listing_key": listing.listing_key,
        "url": listing.url,
        "title": listing.title,
        "account": account.account_key if account else None,
        "first_seen_on": listing.first_seen_on.isoformat(),
        "status": f"{listing.review} / {listing.presence}",
        "score": flag.score if flag else None,
        "substances": [f"{m.name} ({m.substance_id})" for m in flag.matches] if flag else [],
        "reasons": flag.reasons if flag else [],
        "evidence_snippet": flag.snippet_text if flag else "",
        "matched_words": flag.highlighted if flag else [],
        "evidence_sha256": flag.evidence_sha256 if flag else None,
        "text": snap.text if snap else "",
        "events": [
            {"kind": e.kind, "on": e.occurred_on.isoformat(), "cause": e.cause, "evidence_sha256": e.evidence_sha256}
            for e in session.scalars(select(Event).where(Event.listing_id == listing_id).order_by(Event.id))
        ],
        "reviews": [
            {"decision": r.decision, "reviewer": r.reviewer, "at": r.decided_at.isoformat(), "note": r.note}
            for r in session.scalars(select(Review).where(Review.listing_id == listing_id).order_by(Review.id))
        ],
    }


def labelled_rows(session: Session, include_automated: bool = False) -> list[dict[str, Any]]:
    """Every reviewed listing with its latest decision as a label (1 confirmed, 0 dismissed), in the
    `pwatch flag` input shape (id, text, title, lang) so it can feed retraining directly. A decision
    made by a policy (demo auto-confirm) only repeats the model's own flag, so it is no label for
    training: left out unless `include_automated`."""
    latest: dict[int, Review] = {}
    for review in session.scalars(select(Review).order_by(Review.id)):
        latest[review.listing_id] = review
    out = []
    for lid, review in sorted(latest.items()):
        if review.automated and not include_automated:
            continue
        row = session.execute(
            select(Snapshot, Detection)
            .join(
                Event,
                (Event.snapshot_id == Snapshot.id) & (Event.kind == EventKind.FLAGGED) & (Event.listing_id == lid),
            )
            .outerjoin(Detection, Detection.id == Event.detection_id)
        ).first()
        snapshot: Snapshot | None
        detection: Detection | None
        if row is not None:
            snapshot, detection = row
        else:
            snapshot = session.scalars(
                select(Snapshot).where(Snapshot.listing_id == lid).order_by(Snapshot.id.desc())
            ).first()
            detection = None
        listing = session.get_one(Listing, lid)
        out.append(
            {
                "id": f"{session.get_one(Platform, listing.platform_id).name}:{listing.listing_key}",
                "listing_id": lid,
                "title": snapshot.title if snapshot else listing.title,
                "text": snapshot.text if snapshot else "",
                "lang": snapshot.lang if snapshot else None,
                "label": 1 if review.decision == ReviewDecision.CONFIRMED else 0,
                "decision": review.decision,
                "reviewer": review.reviewer,
                "automated": review.automated,
                "decided_at": review.decided_at.isoformat(),
                "note": review.note,
                "model_version": detection.model_version if detection else None,
                "model_score": float(detection.score) if detection else None,
                "substances": sorted({m.substance_id for m in queries.parse_matches(detection.substances)})
                if detection
                else [],
                "evidence_sha256": snapshot.evidence_sha256 if snapshot else None,
            }
        )
    return out


def write_labels(session: Session, out: Path, include_automated: bool = False) -> int:
    rows = labelled_rows(session, include_automated)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)
