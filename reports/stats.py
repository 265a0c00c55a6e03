"""The statistics every report shows, always from `storage.stats` (what `pwatch stats` prints), so
a report and the CLI can never disagree."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, is_dataclass
from typing import Any

from sqlalchemy.orm import Session


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


def compute(session: Session, date_from: dt.date | None, date_to: dt.date | None, by: str | None = None) -> dict[str, Any]:
    """`{"total": {...}, "groups": {name: {...}}}` exactly as `pwatch stats --format json`."""
    from precursor_watch.storage.stats import compute_stats

    result = _plain(compute_stats(session, date_from, date_to, by=by))
    total = _plain(result["total"]) if isinstance(result, dict) else _plain(result.total)
    groups = result.get("groups", {}) if isinstance(result, dict) else getattr(result, "groups", {})
    return {"total": dict(total), "groups": {k: dict(_plain(v)) for k, v in (groups or {}).items()}}
