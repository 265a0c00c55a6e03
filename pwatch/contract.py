"""The crawler-storage contract: the typed items crawlers hand to storage, and the rules both
sides share (text cleaning, the content hash). See docs/ARCHITECTURE.md, "Contracts".

A leaf module: plain dataclasses that import no framework and nothing else of the project, so
`crawlers`, `storage` and tests all depend on it and it depends on none of them
(tests/test_layers.py checks this). Timestamps are timezone-aware UTC; dates are the
world/logical date of the crawl.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import operator
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

GONE_REASONS = (
    "not_found",  # HTTP 404
    "gone",  # HTTP 410
    "soft_removed",  # HTTP 200 with a "no longer available" page
    "redirected",  # redirected to a category or home page
    "account_closed",  # the seller account (or its page) is gone
    "store_closed",  # the store page is gone
    "platform_closed",  # the whole platform is unreachable or announces closure
)


@dataclass(frozen=True)
class Evidence:
    """Where the exact bytes of a fetched page are kept: one WARC response record.

    File + record id name the record (two identical 404 bodies share `sha256`, never a record);
    `target_uri` is the record's WARC-Target-URI, the URL that answered (after any redirects for
    a live listing, so it may differ from the item's canonical `url`).
    """

    warc_file: str  # path relative to the data dir
    record_id: str  # WARC-Record-ID of the response record
    sha256: str  # hex SHA-256 of the HTTP payload (body) as received
    target_uri: str = ""  # WARC-Target-URI of that record
    # Where the record's gzip member lies in the file: read with one seek (None: scan the file).
    offset: int | None = None
    length: int | None = None


@dataclass
class ListingItem:
    platform: str
    listing_key: str  # the platform's own id of the listing
    url: str
    title: str
    text: str
    price: str | None = None  # as shown, e.g. "120.00"
    currency: str | None = None  # ISO 4217 when known
    seller_key: str | None = None
    seller_name: str | None = None
    store_key: str | None = None
    contacts: list[str] = field(default_factory=list)  # normalised handles: "telegram:@x", "email:a@b", "phone:+1..."
    lang: str | None = None  # declared language of the page (en, zh, es)
    posted_at: str | None = None  # ISO date as shown by the platform
    fetched_at: dt.datetime | None = None
    crawl_date: dt.date | None = None  # logical (world) date of the crawl
    http_status: int = 200
    content_sha256: str = ""  # hex SHA-256 of the normalised title + text
    evidence: Evidence | None = None
    # page evidence of an offer beside the text (price, add_to_cart, inquiry, seller, schema_offer:
    # booleans, `nlp.detection.OfferSignals`); None when the page object cannot tell
    offer_signals: dict[str, bool] | None = None
    # the answer's validators (`ETag`, `Last-Modified`) as sent, when usable: a conditional
    # revisit sends them back (`If-None-Match`); None when the platform sent none
    etag: str | None = None
    last_modified: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass
class GoneItem:
    platform: str
    url: str
    listing_key: str | None
    http_status: int | None
    reason: str  # one of GONE_REASONS
    fetched_at: dt.datetime | None = None
    crawl_date: dt.date | None = None
    evidence: Evidence | None = None

    def __post_init__(self) -> None:
        if self.reason not in GONE_REASONS:
            raise ValueError(f"GoneItem.reason must be one of {GONE_REASONS}, got {self.reason!r}")

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass
class QuarantinedItem:
    """A live listing page whose item could not be built (extraction failed or a field is unusable).

    Still a sighting: storage records the URL as seen that day and keeps the reason, so a page
    the platform serves is never counted as removed because we could not read it.
    """

    platform: str
    url: str
    listing_key: str | None
    kind: str  # extraction | invalid_field | too_long | storage_error
    field: str | None
    message: str
    http_status: int | None = 200
    fetched_at: dt.datetime | None = None
    crawl_date: dt.date | None = None
    evidence: Evidence | None = None

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass
class UnchangedItem:
    """A conditional revisit answered `304 Not Modified`: the listing is live and unchanged.

    A sighting of the listing's last snapshot: storage records an observation with the snapshot's
    content hash and the 304's WARC record as evidence, and writes no new snapshot.
    """

    platform: str
    url: str
    listing_key: str | None
    http_status: int = 304
    fetched_at: dt.datetime | None = None
    crawl_date: dt.date | None = None
    evidence: Evidence | None = None

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


def content_hash(title: str, text: str) -> str:
    """SHA-256 of the normalised title + text (whitespace runs collapsed): `ListingItem.content_sha256`.

    The crawler sets it; storage computes it when an item arrives without one. One function, so
    the two can never disagree on what "the content changed" means.
    """
    norm = " ".join(f"{title}\n{text}".split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


# -- clean text ----------------------------------------------------------------------------------

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8)
_TEXT_FIELDS = (
    "listing_key",
    "url",
    "title",
    "text",
    "price",
    "currency",
    "seller_key",
    "seller_name",
    "store_key",
    "lang",
    "posted_at",
)
_COERCED = ("title", "text", "price", "currency", "seller_name", "posted_at")  # a number shown as text


def clean_text(value: str) -> str:
    """`value` with NULs removed and lone surrogates replaced by U+FFFD: storable and encodable."""
    if value.isascii() and "\x00" not in value:
        return value
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", value)


_text_values = operator.attrgetter(*_TEXT_FIELDS)
_not_none = functools.partial(operator.is_not, None)


def storable_text(joined: str) -> bool:
    """True when `joined` holds no NUL and no lone surrogate (two C-level scans)."""
    if joined.isascii():
        return "\x00" not in joined
    return _UNSTORABLE.search(joined) is None


def _plainly_clean(item: ListingItem) -> bool:
    """True when every text field and contact is a str (or None) free of NULs and surrogates:
    one join and two C-level scans, so the common item costs about a microsecond."""
    try:
        joined = "".join(filter(_not_none, _text_values(item))) + "".join(item.contacts)
    except TypeError:  # a number or other non-text value: the field-by-field path decides
        return False
    return storable_text(joined)


def sanitize_listing(item: ListingItem) -> ListingItem:
    """The one sanitising step between a page and storage: text cleaned, numbers shown as text
    (a JSON `title: 12345`) turned into text. Other wrong types are left for validation to name."""
    if _plainly_clean(item):
        return item
    changes: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = getattr(item, name)
        if name in _COERCED and type(value) in (int, float):
            value = str(value)
        if type(value) is str:
            cleaned = clean_text(value)
            if cleaned is not getattr(item, name):
                changes[name] = cleaned
    if type(item.contacts) in (list, tuple) and not all(
        type(c) is str and c.isascii() and "\x00" not in c for c in item.contacts
    ):
        changes["contacts"] = [clean_text(c) if type(c) is str else c for c in item.contacts]
    return replace(item, **changes) if changes else item


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value
