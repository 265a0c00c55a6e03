"""Detector results: which snapshots still need scoring, and recording the scores.

A `flagged` event is emitted the first time any snapshot of a listing is flagged while the listing
is unreviewed (review state `none`); re-scoring with a new model never re-flags or un-flags.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from precursor_watch.storage import events as ev
from precursor_watch.storage.bulk import dialect_insert as _insert
from precursor_watch.storage.bulk import one_of
from precursor_watch.storage.errors import UnknownEntity
from precursor_watch.storage.kinds import EventKind, ReviewState
from precursor_watch.storage.models import Detection, DetectionFailure, Listing, Snapshot


@dataclass(frozen=True)
class PendingSnapshot:
    id: int
    listing_id: int
    title: str
    text: str
    lang: str | None
    seen_on: dt.date
    offer_signals: dict | None = None  # the page's offer signals (names to booleans), when known


@dataclass
class DetectionResult:
    snapshot_id: int
    flagged: bool
    score: float
    substances: list[Any] = field(default_factory=list)
    reasons: list[Any] = field(default_factory=list)
    model_version: str = ""


def pending_snapshots(session: Session, model_version: str, limit: int | None = None) -> list[PendingSnapshot]:
    """Snapshots not yet scored by `model_version`, oldest first."""
    stmt = (
        select(
            Snapshot.id,
            Snapshot.listing_id,
            Snapshot.title,
            Snapshot.text,
            Snapshot.lang,
            Snapshot.seen_on,
            Snapshot.offer_signals,
        )
        .outerjoin(Detection, and_(Detection.snapshot_id == Snapshot.id, Detection.model_version == model_version))
        .where(Detection.id.is_(None))
        .order_by(Snapshot.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [PendingSnapshot(*row) for row in session.execute(stmt)]


def _coerce(result: Any) -> DetectionResult:
    """Accept a DetectionResult, a (snapshot_id, obj-with-attributes) pair or a mapping."""
    if isinstance(result, DetectionResult):
        return result
    if isinstance(result, tuple) and len(result) == 2:
        sid, obj = result
        get: Callable[[str], Any] = obj.get if isinstance(obj, dict) else lambda k: getattr(obj, k, None)
        return DetectionResult(
            int(sid),
            bool(get("flagged")),
            float(get("score")),
            list(get("substances") or []),
            list(get("reasons") or []),
            str(get("model_version") or ""),
        )
    if isinstance(result, dict):
        return DetectionResult(
            int(result["snapshot_id"]),
            bool(result["flagged"]),
            float(result["score"]),
            list(result.get("substances") or []),
            list(result.get("reasons") or []),
            str(result["model_version"]),
        )
    raise TypeError(f"cannot read a detection result from {type(result).__name__}")


def _jsonable(values: Iterable[Any]) -> list[Any]:
    out = []
    for v in values:
        if hasattr(v, "__dataclass_fields__"):
            from dataclasses import asdict

            v = asdict(v)
        out.append(v)
    return out


def record_detections(session: Session, results: Sequence[Any], day: dt.date | None = None) -> int:
    """Store results (idempotent per snapshot + model version); return how many listings got flagged.

    The `flagged` event is dated `day` when given (the logical date of the detect step), else the
    date the snapshot's content was first seen.
    """
    rows = [_coerce(r) for r in results]
    if not rows:
        return 0
    for r in rows:
        if not r.model_version:
            raise ValueError(f"detection for snapshot {r.snapshot_id}: model_version is empty")
        if not 0.0 <= r.score <= 1.0:
            raise ValueError(f"detection for snapshot {r.snapshot_id}: score {r.score} outside [0, 1]")
    snaps = {
        sid: (lid, seen_on, ev.cited(sha, warc_file, record_id, uri))
        for sid, lid, seen_on, sha, warc_file, record_id, uri in session.execute(
            select(
                Snapshot.id,
                Snapshot.listing_id,
                Snapshot.seen_on,
                Snapshot.evidence_sha256,
                Snapshot.evidence_file,
                Snapshot.evidence_record,
                Snapshot.evidence_uri,
            ).where(Snapshot.id.in_({r.snapshot_id for r in rows}))
        )
    }
    missing = {r.snapshot_id for r in rows} - snaps.keys()
    if missing:
        raise UnknownEntity(f"no snapshot with id {min(missing)}")
    with session.begin_nested():
        session.execute(
            _insert(session, Detection).on_conflict_do_nothing(),
            [
                {
                    "snapshot_id": r.snapshot_id,
                    "model_version": r.model_version,
                    "flagged": r.flagged,
                    "score": r.score,
                    "substances": _jsonable(r.substances),
                    "reasons": _jsonable(r.reasons),
                }
                for r in rows
            ],
        )
        flagged_listings = {snaps[r.snapshot_id][0] for r in rows if r.flagged}
        if not flagged_listings:
            return 0
        unreviewed = set(
            session.scalars(
                select(Listing.id).where(Listing.id.in_(flagged_listings), Listing.review == ReviewState.NONE)
            )
        )
        new_events = []
        for r in rows:
            lid, seen_on, cites = snaps[r.snapshot_id]
            if r.flagged and lid in unreviewed:
                unreviewed.discard(lid)
                det_id = session.scalar(
                    select(Detection.id).where(
                        Detection.snapshot_id == r.snapshot_id, Detection.model_version == r.model_version
                    )
                )
                new_events.append(
                    ev.NewEvent(
                        EventKind.FLAGGED,
                        lid,
                        day or seen_on,
                        snapshot_id=r.snapshot_id,
                        detection_id=det_id,
                        **cites,
                        details={"score": r.score, "model_version": r.model_version},
                    )
                )
        ev.append(session, new_events)
    return len(new_events)


MAX_REASON = 2000  # characters of a failure reason kept


def record_failures(session: Session, failures: Sequence[tuple[int, str]], model_version: str, day: dt.date) -> int:
    """Store snapshots the detector could not judge on `day`, as (snapshot_id, reason); return how
    many. Idempotent per snapshot, model version and day. No detection is written, so the
    snapshot stays pending and the next run tries it again."""
    if not failures:
        return 0
    if not model_version:
        raise ValueError("detection failures: model_version is empty")
    ids = {sid for sid, _ in failures}
    known = set(session.scalars(select(Snapshot.id).where(Snapshot.id.in_(ids))))
    if ids - known:
        raise UnknownEntity(f"no snapshot with id {min(ids - known)}")
    with session.begin_nested():
        session.execute(
            _insert(session, DetectionFailure).on_conflict_do_nothing(),
            [
                {"snapshot_id": sid, "model_version": model_version, "failed_on": day, "reason": reason[:MAX_REASON]}
                for sid, reason in failures
            ],
        )
    return len(ids)


def listing_substances(session: Session, listing_ids: Iterable[int]) -> dict[int, set[str]]:
    """Substance ids any detection found in each listing (used for relisting)."""
    out: dict[int, set[str]] = {}
    for lid, subs in session.execute(
        select(Snapshot.listing_id, Detection.substances)
        .join(Detection, Detection.snapshot_id == Snapshot.id)
        .where(one_of(session, Snapshot.listing_id, list(listing_ids)))
    ):
        out.setdefault(lid, set()).update(_substance_id(s) for s in subs or [])
    return out


def _substance_id(s: Any) -> str:
    if isinstance(s, dict):
        return str(s.get("id") or s.get("cas") or s.get("name"))
    return str(s)
