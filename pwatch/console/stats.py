"""The statistics page: the numbers of `pwatch stats` for a period and grouping chosen in a GET
form, each number linking to its drill-down (what `pwatch stats --explain` lists)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from precursor_watch.console.web import render, require_user, state_of
from precursor_watch.storage.statistics import BY_NAME, STATISTICS
from precursor_watch.storage.stats import compute_stats, explain_number

GROUPINGS = ("platform", "account", "store")


@dataclass(frozen=True)
class Period:
    date_from: dt.date | None
    date_to: dt.date | None
    by: str | None
    problems: list[str]

    def query(self, **extra: str) -> dict[str, str]:
        """The period as query parameters (for links that keep it)."""
        params = {"from": self.date_from, "to": self.date_to, "by": self.by, **extra}
        return {k: str(v) for k, v in params.items() if v}


def _date(text: str | None, name: str, problems: list[str]) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        problems.append(f"{name}: not a date (YYYY-MM-DD): {text!r}")
        return None


def period_of(request: Request) -> Period:
    q, problems = request.query_params, list[str]()
    date_from, date_to = _date(q.get("from"), "from", problems), _date(q.get("to"), "to", problems)
    by = q.get("by") or None
    if by is not None and by not in GROUPINGS:
        problems.append(f"by: one of {', '.join(GROUPINGS)}, got {by!r}")
        by = None
    if date_from and date_to and date_from > date_to:
        problems.append(f"from {date_from} is after to {date_to}")
        date_from = date_to = None
    return Period(date_from, date_to, by, problems)


def cell(value: object) -> str:
    """A number as `pwatch stats` prints it."""
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _after_metric(period: Period, group: str) -> str:
    """A column's drill-down link parameters after `metric=`, built once per column (a grouping by
    account has thousands of columns, each with a link per statistic)."""
    query = urlencode(period.query(group=group))
    return f"&{query}" if query else ""


def stats_page(request: Request) -> Response:
    user = require_user(request)
    period = period_of(request)
    with Session(state_of(request).engine) as session:
        result = compute_stats(session, period.date_from, period.date_to, by=period.by)
    columns = [
        (name, numbers, _after_metric(period, name if name != "total" else ""))
        for name, numbers in [("total", result["total"]), *result["groups"].items()]
    ]
    return render(
        request,
        "stats.html",
        user=user,
        period=period,
        statistics=STATISTICS,
        columns=columns,
        groupings=GROUPINGS,
        cell=cell,
    )


def explain_page(request: Request) -> Response:
    user = require_user(request)
    period = period_of(request)
    metric = request.query_params.get("metric", "")
    group = request.query_params.get("group") or None
    if metric not in BY_NAME:
        return render(request, "error.html", status=404, user=user, message=f"no statistic named {metric!r}")
    group = group if period.by else None
    by = period.by if group else None  # the total column of a grouped table is the ungrouped total
    with Session(state_of(request).engine) as session:
        value, rows = explain_number(session, metric, period.date_from, period.date_to, by=by, group=group)
    return render(
        request,
        "explain.html",
        user=user,
        period=period,
        stat=BY_NAME[metric],
        group=group or "total",
        rows=rows,
        value=cell(value),
        counted=sum(1 for r in rows if r["counted"]),
    )
