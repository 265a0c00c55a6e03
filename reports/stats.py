"""The statistics every report shows, always from `storage.stats` (what `pwatch stats` prints), so
a report and the CLI can never disagree.

A report reads the event log once (`storage.stats.load_event_log`) and derives all its numbers
from it: the period's members in total and per platform come from one pass, and every number and
drill-down of the period is aggregated from those members.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from precursor_watch.storage.stats import EventLog, Members, compute_members, stats_result


@dataclass(frozen=True)
class PeriodStatistics:
    """Every statistic of a period in total and per platform, and the members behind them."""

    total: dict[str, Any]
    per_platform: dict[str, dict[str, Any]]
    members: dict[str | None, Members]  # by (None = total, "platform") -> group -> member list -> members


def period_statistics(log: EventLog, date_from: dt.date | None, date_to: dt.date | None) -> PeriodStatistics:
    members = compute_members(log, date_from, date_to, (None, "platform"))
    result = stats_result(members, "platform")
    return PeriodStatistics(result["total"], result["groups"], members)


def totals(log: EventLog, date_from: dt.date | None, date_to: dt.date | None) -> dict[str, Any]:
    """Every statistic of a period in total (`pwatch stats --from --to`)."""
    return stats_result(compute_members(log, date_from, date_to))["total"]
