"""Typed results of the detector (`Detection`; docs/ARCHITECTURE.md, "Contracts between packages").

Offsets: the detector reads one string per listing, `title + "\\n" + text` when a title is given.
Every offset here is given per *field*: `field` is "title" or "text" and `start`/`end` index that
original field string, so `record.<field>[start:end] == matched` always holds.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class DetectInput:
    id: str
    text: str
    title: str | None = None
    lang: str | None = None  # "en" | "zh" | "es"; guessed from the text when missing
    listing_date: dt.date | None = None  # for the control entries in force; None = all entries


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
    substance_ids: tuple[str, ...] = field(default=())  # distinct ids, first-seen order

    def to_dict(self) -> dict:
        d = asdict(self)
        for c in d["controls"]:
            c["effective"] = c["effective"].isoformat()
        d["substance_ids"] = list(self.substance_ids)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)
