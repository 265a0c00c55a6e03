"""Conditional revisits: ask whether a tracked listing changed since we last saw it live.

The revisit list gives, for an active listing, the logical date of its last live sighting and the
`ETag` of its last live 200 answer (when the platform sent one). The request carries
`If-None-Match` with that ETag and `If-Modified-Since` the end of that day (the platform's
`Last-Modified` is the day the content last changed); a server that knows ETags decides by the ETag
(RFC 9110 13.2.2), one that does not by the date. A `304 Not Modified` then means: live, and the
content is the stored snapshot's, so storage records a sighting and no new snapshot. A 200 is a
new sighting whose validators replace the stored ones.
"""

from __future__ import annotations

import datetime as dt
import re
from email.utils import format_datetime

NOT_MODIFIED = 304

_ENTITY_TAG = re.compile(r'(?:W/)?"[\x21\x23-\x7e]*"')  # RFC 9110 8.8.3, visible ASCII only


def is_entity_tag(value: str) -> bool:
    """An ETag as RFC 9110 writes it (`"xyz"` or `W/"xyz"`): the only form sent back."""
    return _ENTITY_TAG.fullmatch(value) is not None


def conditional_headers(last_seen: dt.date | None, etag: str | None = None) -> dict[str, str]:
    """Headers of a revisit of a listing last seen live on `last_seen` whose last live answer had
    `etag` (none when the sighting date is unknown: a removed listing is asked unconditionally)."""
    if last_seen is None:
        return {}
    end_of_day = dt.datetime.combine(last_seen, dt.time(23, 59, 59), tzinfo=dt.UTC)
    headers = {"If-Modified-Since": format_datetime(end_of_day, usegmt=True)}
    if etag is not None and is_entity_tag(etag):
        headers["If-None-Match"] = etag
    return headers
