"""The closed sets of values the tracking database stores as text.

Each is a `StrEnum`: a member is equal to its value, so code, reports, CSV exports and tests that
compare strings keep working, and the model columns map them to CHECK-constrained columns so the
database refuses anything else. A new member needs a migration that widens its constraint
(tests/storage/test_kinds.py fails until there is one).
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """What an event records (`events.kind`)."""

    FIRST_SEEN = "first_seen"
    """A listing was seen alive for the first time; it starts active and unreviewed."""
    CHANGED = "changed"
    """A live sighting carried content (title or text) unlike the latest snapshot."""
    FLAGGED = "flagged"
    """The detector judged a snapshot of the listing to be an offer."""
    CONFIRMED = "confirmed"
    """A review (analyst or the demo auto-confirm policy) confirmed a flagged listing."""
    DISMISSED = "dismissed"
    """A review dismissed a flagged listing as no offer."""
    REPORTED = "reported"
    """A takedown notice naming the listing was recorded."""
    REMOVAL_OBSERVED = "removal_observed"
    """The listing was observed gone (explicit gone page, closure, or K absent healthy crawls)."""
    REAPPEARED = "reappeared"
    """A removed listing was seen alive again at the same URL."""
    RELISTED_AS = "relisted_as"
    """A new listing was linked to this earlier one as its relisting."""
    ACCOUNT_CLOSED = "account_closed"
    """A seller account was observed closed (entity event: no listing)."""
    STORE_CLOSED = "store_closed"
    """A store was observed closed (entity event: no listing)."""
    PLATFORM_CLOSED = "platform_closed"
    """A whole platform was observed closed (entity event: no listing)."""


class Presence(StrEnum):
    """Whether a listing is up (`listings.presence`, a cache of the state machine)."""

    ACTIVE = "active"
    """Seen alive and no removal observed since."""
    REMOVED = "removed"
    """A removal was observed and the listing has not reappeared since."""


class ReviewState(StrEnum):
    """Where a listing stands in detection and review (`listings.review`, a state-machine cache)."""

    NONE = "none"
    """Never flagged by the detector."""
    FLAGGED = "flagged"
    """Flagged by the detector, not reviewed yet."""
    CONFIRMED = "confirmed"
    """Confirmed on review, not reported yet."""
    DISMISSED = "dismissed"
    """Dismissed on review."""
    REPORTED = "reported"
    """Named in at least one takedown notice."""


class ReviewDecision(StrEnum):
    """The outcome of one review of a flagged listing (`reviews.decision`)."""

    CONFIRMED = "confirmed"
    """The listing is an offer: it may be reported."""
    DISMISSED = "dismissed"
    """The listing is not an offer."""


class NoticeStatus(StrEnum):
    """Delivery state of a takedown notice (`notices.status`)."""

    PENDING = "pending"
    """Recorded, no answer from the platform yet."""
    SENT = "sent"
    """Delivered; the platform's answer (ticket) is stored."""
    FAILED = "failed"
    """The last delivery attempt failed; a later run re-sends it."""


class ObservationKind(StrEnum):
    """What a crawl saw at a URL (`observations.kind`)."""

    SEEN = "seen"
    """A live listing page."""
    GONE = "gone"
    """A page saying (or showing) the listing is gone."""


class GoneReason(StrEnum):
    """Why a page counts as gone (`observations.gone_reason`, the crawler's GoneItem.reason)."""

    NOT_FOUND = "not_found"
    """HTTP 404."""
    GONE = "gone"
    """HTTP 410."""
    SOFT_REMOVED = "soft_removed"
    """HTTP 200 with a "no longer available" page."""
    REDIRECTED = "redirected"
    """Redirected to a category or home page."""
    ACCOUNT_CLOSED = "account_closed"
    """The seller account (or its page) is gone."""
    STORE_CLOSED = "store_closed"
    """The store page is gone."""
    PLATFORM_CLOSED = "platform_closed"
    """The whole platform is unreachable or announces closure."""


class RemovalCause(StrEnum):
    """Why a removal was observed (`events.cause`): a gone reason, or absence from healthy crawls."""

    NOT_FOUND = GoneReason.NOT_FOUND.value
    """A 404 page in a healthy crawl."""
    GONE = GoneReason.GONE.value
    """A 410 page in a healthy crawl."""
    SOFT_REMOVED = GoneReason.SOFT_REMOVED.value
    """A "no longer available" page in a healthy crawl."""
    REDIRECTED = GoneReason.REDIRECTED.value
    """A removal redirect in a healthy crawl."""
    ACCOUNT_CLOSED = GoneReason.ACCOUNT_CLOSED.value
    """Its seller account was observed closed."""
    STORE_CLOSED = GoneReason.STORE_CLOSED.value
    """Its store was observed closed."""
    PLATFORM_CLOSED = GoneReason.PLATFORM_CLOSED.value
    """Its platform was observed closed."""
    ABSENT = "absent"
    """Missing from K consecutive healthy crawls (a silent removal)."""


class RelistMethod(StrEnum):
    """How a new listing was linked to an earlier one (`relist_links.method`)."""

    TEXT = "text"
    """Near-identical text (MinHash estimate of shingle Jaccard)."""
    CONTACT = "contact"
    """Shared contact handles."""
    ACCOUNT_SUBSTANCES = "account_substances"
    """Same seller account offering the same substances."""


class QuarantineKind(StrEnum):
    """Why an item was quarantined instead of stored (`quarantine.kind`)."""

    INVALID_FIELD = "invalid_field"
    """A field has the wrong type or a value ingest cannot accept."""
    TOO_LONG = "too_long"
    """A field is longer than its column holds."""
    EXTRACTION = "extraction"
    """The crawler could not build an item from a live page."""
    STORAGE_ERROR = "storage_error"
    """The database refused the item."""
    LAYOUT_DRIFT = "layout_drift"
    """A whole listing page whose required fields (per its platform file) came out empty."""


class UserRole(StrEnum):
    """What a console user may do (`users.role`)."""

    ANALYST = "analyst"
    """Reads everything and decides flags (confirm or dismiss)."""
    AUDITOR = "auditor"
    """Reads everything, statistics and evidence packs included; decides nothing."""
    ADMIN = "admin"
    """Manages console users."""


def values(kind: type[StrEnum]) -> list[str]:
    """The stored values of `kind`, in declaration order (SQLAlchemy `Enum(values_callable=...)`)."""
    return [member.value for member in kind]
