"""Typed results of the detector (`Detection`; docs/ARCHITECTURE.md, "Contracts between packages").

Offsets: the detector reads one string per listing, `title + "\\n" + text` when a title is given.
Every offset here is given per *field*: `field` is "title" or "text" and `start`/`end` index that
original field string, so `record.<field>[start:end] == matched` always holds.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

OFFER_SIGNAL_FIELDS = ("price", "add_to_cart", "inquiry", "seller", "schema_offer")
OFFER_SIGNAL_REASONS = {
    "price": "page shows a price",
    "add_to_cart": "page has an add-to-cart control",
    "inquiry": "page has an inquiry control",
    "seller": "page names a seller",
    "schema_offer": "page carries a schema.org Offer",
}


@dataclass(frozen=True)
class OfferSignals:
    """What the page around a listing shows besides its text (from the crawler's page object):
    a price, an add-to-cart or inquiry control, a named seller, a schema.org `Offer`."""

    price: bool = False
    add_to_cart: bool = False
    inquiry: bool = False
    seller: bool = False
    schema_offer: bool = False

    @classmethod
    def from_dict(cls, data: dict, where: str = "offer_signals") -> OfferSignals:
        """From a JSON object of booleans; an unknown key or a non-boolean value is a ValueError
        naming it."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object of booleans, got {type(data).__name__}")
        for key, value in data.items():
            if key not in OFFER_SIGNAL_FIELDS:
                raise ValueError(f"{where}.{key}: unknown offer signal (known: {', '.join(OFFER_SIGNAL_FIELDS)})")
            if not isinstance(value, bool):
                raise ValueError(f"{where}.{key}: must be true or false, got {value!r}")
        return cls(**data)

    def present(self) -> tuple[str, ...]:
        return tuple(name for name in OFFER_SIGNAL_FIELDS if getattr(self, name))

    def to_dict(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in OFFER_SIGNAL_FIELDS}


@dataclass(frozen=True)
class DetectInput:
    id: str
    text: str
    title: str | None = None
    lang: str | None = None  # any tag; en/zh/es and their variants are used, others guessed
    listing_date: dt.date | None = None  # for the control entries in force; None = all entries
    offer_signals: OfferSignals | None = None  # page evidence, when the page was seen


@dataclass(frozen=True)
class SubstanceHit:
    id: str  # primary CAS RN of the free base
    name: str
    tier: str  # monitored | watched
    category: str
    matched: str
    field: str  # "title" | "text"
    start: int
    end: int
    how: str  # name | synonym | abbreviation | cas | fuzzy
    detail: str = ""


@dataclass(frozen=True)
class SignalHitOut:
    kind: str
    matched: str
    field: str
    start: int
    end: int
    red_flag: bool = False


@dataclass(frozen=True)
class Reason:
    """One human-readable reason, anchored to the words it is about."""

    message: str
    field: str
    start: int
    end: int
    matched: str


@dataclass(frozen=True)
class ControlEntry:
    substance_id: str
    jurisdiction: str
    status: str
    effective: dt.date
    source: str


@dataclass(frozen=True)
class DetectionError:
    """A record the detector could not judge (`Detector.detect_each`): its id and why."""

    id: str
    reason: str


@dataclass(frozen=True)
class Detection:
    id: str
    flagged: bool
    score: float
    lang: str
    substances: tuple[SubstanceHit, ...]
    signals: tuple[SignalHitOut, ...]
    reasons: tuple[Reason, ...]
    controls: tuple[ControlEntry, ...]
    model_version: str
    offer_probability: float = 0.0
    gate: str = ""
    substance_ids: tuple[str, ...] = field(default=())  # distinct ids offered (nlp.offered), first-seen order
    lang_source: str = "declared"  # declared | normalised (from e.g. zh-CN) | guessed (missing or unknown tag)

    def to_dict(self) -> dict:
        d = asdict(self)
        for c in d["controls"]:
            c["effective"] = c["effective"].isoformat()
        d["substance_ids"] = list(self.substance_ids)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)
