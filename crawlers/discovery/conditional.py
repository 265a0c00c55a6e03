"""Conditional revisits: ask whether a tracked listing changed since we last saw it live.

The revisit list gives, for an active listing, the logical date of its last live sighting; the
request carries `If-Modified-Since` the end of that day (the platform's `Last-Modified` is the day
the content last changed). A `304 Not Modified` then means: live, and the content is the stored
snapshot's, so storage records a sighting and no new snapshot.
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

NOT_MODIFIED = 304


def conditional_headers(last_seen: dt.date | None) -> dict[str, str]:
    """Headers of a revisit of a listing last seen live on `last_seen` (none when unknown)."""
    if last_seen is None:
        return {}
    end_of_day = dt.datetime.combine(last_seen, dt.time(23, 59, 59), tzinfo=dt.UTC)
    return {"If-Modified-Since": format_datetime(end_of_day, usegmt=True)}
