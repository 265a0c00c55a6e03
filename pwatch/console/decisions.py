"""Decisions from the console, recorded by the same review code `pwatch review confirm|dismiss` runs.

A batch (one listing, or a seller's listings) is one transaction: either every listing gets its
own review row and event, or nothing is written. Like the CLI, a decision is dated at the
database's logical date, never the wall clock. The data dir's writer lock is taken per batch,
so the console never writes beside `pwatch run`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from precursor_watch.errors import PwatchError

if TYPE_CHECKING:
    from precursor_watch.console.web import ConsoleState

DECISIONS = ("confirmed", "dismissed")
MAX_BATCH = 500


class DecisionRefused(Exception):
    """One line saying why nothing was recorded."""


def decide_many(
    state: ConsoleState, listing_ids: list[int], decision: str, reviewer: str, note: str | None
) -> list[int]:
    from precursor_watch.datalock import EXCLUSIVE, data_dir_lock
    from precursor_watch.enforcement.review import decide
    from precursor_watch.reports.review import ReviewError
    from precursor_watch.storage.reviews import logical_day
    from precursor_watch.storage.types import logical_ts

    if decision not in DECISIONS:
        raise DecisionRefused(f"decision must be one of {', '.join(DECISIONS)}")
    if not listing_ids or len(listing_ids) > MAX_BATCH:
        raise DecisionRefused(f"choose between 1 and {MAX_BATCH} listings")
    ids = list(dict.fromkeys(listing_ids))
    try:
        with (
            state.write_lock,
            data_dir_lock(state.settings.data_path, EXCLUSIVE, create=False),
            Session(state.engine) as session,
            session.begin(),
        ):
            day = logical_day(session)
            if day is None:
                raise DecisionRefused("nothing tracked yet: no logical date to date the decision")
            at = logical_ts(day)
            for listing_id in ids:
                decide(session, listing_id, decision, reviewer, note, at)
    except ReviewError as exc:
        raise DecisionRefused(str(exc)) from None
    except PwatchError as exc:  # the data dir is busy with another writer
        raise DecisionRefused(str(exc)) from None
    return ids
