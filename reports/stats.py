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

from precursor_watch.storage.statistics import BY_NAME
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


def day_counts(period: PeriodStatistics, day: dt.date, names: tuple[str, ...]) -> dict[str, int]:
    """Distinct-subject statistics of one day of the period, from the period's members: a member
    counts on `day` when one of the events behind it (of the statistic's own kinds) happened then.
    Equal to `totals(log, day, day)` for these statistics (tests/reports/test_daily.py checks)."""
    members = period.members[None].get("total", {})
    counts = {}
    for name in names:
        stat = BY_NAME[name]
        if stat.aggregate != "distinct" or not stat.events:
            raise ValueError(f"{name}: only distinct counts of events can be read per day")
        on_day = {
            m.id
            for m in members.get(stat.members, [])
            if any(e.get("on") == day.isoformat() and e.get("event") in stat.events for e in m.evidence)
        }
        counts[name] = len(on_day)
    return counts


def totals(log: EventLog, date_from: dt.date | None, date_to: dt.date | None) -> dict[str, Any]:
    """Every statistic of a period in total (`pwatch stats --from --to`)."""
    return stats_result(compute_members(log, date_from, date_to))["total"]
