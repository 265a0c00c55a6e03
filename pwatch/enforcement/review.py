"""Recording analyst review decisions: the write side of `pwatch review decide`.

Where "confirmed" and "dismissed" are decided by a person (docs/ARCHITECTURE.md, "Where each
decision lives"); the state machine that allows or refuses a decision is `storage.reviews` and
`storage.state`. Reading the queue and case files is `reports.review`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from precursor_watch.reports.review import ReviewError
from precursor_watch.storage.errors import StorageError
from precursor_watch.storage.models import Listing
from precursor_watch.storage.reviews import record_review


def decide(session: Session, listing_id: int, decision: str, reviewer: str, note: str | None, at: dt.datetime) -> int:
    """Record an analyst's decision (confirmed / dismissed) through the storage state machine;
    ReviewError names the listing when it is unknown or the decision is not allowed."""
    if session.get(Listing, listing_id) is None:
        raise ReviewError(f"no listing with id {listing_id}")
    try:
        return record_review(session, listing_id, decision, reviewer, note, at)
    except (StorageError, ValueError) as exc:
        raise ReviewError(f"listing {listing_id}: {exc}") from None
