"""The audit report for a period: every statistic per platform and in total with its unit and
definition, a drill-down of the listings (and evidence hashes) behind each number, the WARC record
(file, record id, target URI, payload hash) every counted event cites, and a SHA-256 manifest of
every exported file.

Numbers and drill-downs both come from one computation of `storage.stats`'s members (the one
`pwatch stats` prints), so a number and its drill-down cannot disagree; units and definitions come
from the registry `storage.statistics`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from precursor_watch.ledger.heads import HEADS_NAME, sign_manifest, write_heads
from precursor_watch.reports import ReportSettings, stats
from precursor_watch.reports.html import Html, join, page, table, tag
from precursor_watch.reports.manifest import MANIFEST_NAME, write_manifest
from precursor_watch.reports.safe import safe_name, write_csv
from precursor_watch.storage.models import Event
from precursor_watch.storage.queries import found_only_by_sweep
from precursor_watch.storage.statistics import DEFINITIONS, METRICS, UNITS
from precursor_watch.storage.stats import explain_members, load_event_log

DRILL_FIELDS = [
    "metric",
    "group",
    "subject",
    "id",
    "platform",
    "listing_key",
    "url",
    "counted",
    "value",
    "evidence_events",
    "evidence_sha256",
    "evidence_records",
]
# One row per event behind a number and the WARC record it cites (blank for an event that cites no
# page: a removal concluded from absence, a review, a notice).
EVIDENCE_FIELDS = [
    "metric",
    "group",
    "subject",
    "id",
    "listing_key",
    "event",
    "on",
    "evidence_sha256",
    "warc_file",
    "warc_record_id",
    "target_uri",
]
STAT_FIELDS = ["metric", "group", "value", "unit", "definition", "drilldown_rows", "drilldown_counted"]


def _period(session: Session, date_from: dt.date | None, date_to: dt.date | None) -> tuple[dt.date, dt.date]:
    lo, hi = session.execute(select(func.min(Event.occurred_on), func.max(Event.occurred_on))).one()
    today = dt.date.today()
    date_from = date_from or lo or today
    date_to = date_to or hi or today
    if date_to < date_from:
        raise ValueError(f"audit period ends ({date_to}) before it starts ({date_from})")
    return date_from, date_to


def collect(session: Session, date_from: dt.date, date_to: dt.date) -> dict[str, Any]:
    period = stats.period_statistics(load_event_log(session, date_to), date_from, date_to)
    groups: dict[str, dict[str, Any]] = {"total": period.total, **period.per_platform}
    drill: list[dict[str, Any]] = []
    for by, names in ((None, ["total"]), ("platform", list(period.per_platform))):
        members = explain_members(session, period.members[by])
        for group in names:
            for metric in METRICS:
                for member in members.get(group, {}).get(metric, []):
                    drill.append({"metric": metric, "group": group, **member})
    return {
        "from": date_from,
        "to": date_to,
        "metrics": list(METRICS),
        "units": dict(UNITS),
        "groups": groups,
        "drill": drill,
        "sweeps": found_only_by_sweep(session, date_from, date_to),
    }


def _drill_rows(drill: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for d in drill:
        evidence = d.get("evidence") or []
        rows.append(
            [
                d["metric"],
                d["group"],
                d["subject"],
                d["id"],
                d.get("platform", ""),
                d.get("listing_key", ""),
                d.get("url", ""),
                "yes" if d.get("counted") else "no",
                "" if d.get("value") is None else round(float(d["value"]), 3),
                " ".join(f"{e.get('event')}@{e.get('on')}" for e in evidence),
                " ".join(e["evidence_sha256"] for e in evidence if e.get("evidence_sha256")),
                " ".join(e["warc_record_id"] for e in evidence if e.get("warc_record_id")),
            ]
        )
    return rows


def _evidence_rows(drill: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            d["metric"],
            d["group"],
            d["subject"],
            d["id"],
            d.get("listing_key", ""),
            e.get("event", ""),
            e.get("on", ""),
            e.get("evidence_sha256") or "",
            e.get("warc_file") or "",
            e.get("warc_record_id") or "",
            e.get("target_uri") or "",
        ]
        for d in drill
        for e in d.get("evidence") or []
    ]


def _stat_rows(data: dict[str, Any]) -> list[list[Any]]:
    counts: dict[tuple[str, str], list[int]] = {}
    for d in data["drill"]:
        key = (d["metric"], d["group"])
        n = counts.setdefault(key, [0, 0])
        n[0] += 1
        n[1] += 1 if d.get("counted") else 0
    rows = []
    for group, values in data["groups"].items():
        for metric in data["metrics"]:
            drill_key = metric
            n = counts.get((drill_key, group), [0, 0])
            rows.append(
                [
                    metric,
                    group,
                    "" if values.get(metric) is None else values[metric],
                    data["units"].get(metric, ""),
                    DEFINITIONS.get(metric, ""),
                    n[0],
                    n[1],
                ]
            )
    return rows


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit.startswith("share"):
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _definition(text: str) -> Html:
    """`event_kind` spans in a definition shown as code (the text is ours, escaped all the same)."""
    parts = text.split("`")
    return join(tag("code", p) if i % 2 else p for i, p in enumerate(parts))


def render(data: dict[str, Any]) -> str:
    groups = list(data["groups"])
    headers = ["statistic", "unit", "definition"] + groups
    rows = []
    for metric in data["metrics"]:
        unit = data["units"].get(metric, "")
        cells = [
            tag(
                "span",
                _fmt(data["groups"][g].get(metric), unit),
                data_metric=metric,
                data_group=g,
                data_value="" if data["groups"][g].get(metric) is None else data["groups"][g][metric],
            )
            for g in groups
        ]
        rows.append([tag("code", metric), unit, _definition(DEFINITIONS.get(metric, ""))] + cells)
    period = f"{data['from']} to {data['to']}"
    return page(
        f"Precursor Watch — audit {period}",
        tag("h1", f"Audit report {period}"),
        tag(
            "p",
            "Period: logical dates ",
            tag("b", period),
            " inclusive. Every number is a query over the append-only tracking events; ",
            tag("a", "drilldown.csv", href="drilldown.csv"),
            " lists the listings (or accounts, stores, platforms) and evidence hashes behind each one (column ",
            tag("code", "counted"),
            " marks the numerator of a share); ",
            tag("a", "evidence.csv", href="evidence.csv"),
            " names the WARC file, record id, target URI and payload hash each of their events cites. ",
            tag("a", "statistics.csv", href="statistics.csv"),
            " has the same numbers; ",
            tag("a", MANIFEST_NAME, href=MANIFEST_NAME),
            " holds the SHA-256 of every file (check with ",
            tag("code", f"sha256sum -c {MANIFEST_NAME}"),
            ").",
        ),
        tag("h2", "Statistics per platform and in total"),
        table(headers, rows, id="statistics"),
        *_sweep_section(data.get("sweeps") or {}),
    )


def _sweep_section(sweeps: dict[str, dict[str, Any]]) -> list[Html]:
    """Found only by sweep: what the weekly full crawls found first that search discovery missed."""
    if not sweeps:
        return []
    rows = [
        [
            name,
            s["sweeps"],
            tag("span", str(s["found_only_by_sweep"]), data_metric="found_only_by_sweep", data_group=name),
            tag("span", str(s["flagged_only_by_sweep"]), data_metric="flagged_only_by_sweep", data_group=name),
            " ".join(s["flagged"][:50]),
        ]
        for name, s in sorted(sweeps.items())
    ]
    return [
        tag("h2", "Found only by sweep"),
        tag(
            "p",
            "Listings a weekly full sweep saw first that the same crawl's site-search queries, flagged "
            "sellers' pages and revisits did not reach; the flagged ones are offers the query plan missed.",
        ),
        table(
            ["platform", "sweeps", "found only by sweep", "flagged, found only by sweep", "flagged listing keys"],
            rows,
            id="sweeps",
        ),
    ]


def default_audit_dir(settings: ReportSettings, date_from: dt.date, date_to: dt.date) -> Path:
    """`<data dir>/audit/<from>_<to>/`: where an audit of the period goes unless told otherwise."""
    return Path(settings.data_path) / "audit" / safe_name(f"{date_from.isoformat()}_{date_to.isoformat()}")


def write_audit_report(
    settings: ReportSettings,
    date_from: dt.date | None,
    date_to: dt.date | None,
    out_dir: Path | None = None,
    statement: bool = False,
) -> Path:
    """Write the audit folder; return its index.html (statement.html with `statement`: the public
    statement of the period, `reports.statement`). Missing dates default to the first / last event
    date in the database."""
    from precursor_watch.storage.db import session_scope

    with session_scope(settings.db_url, read_only=True) as session:  # an audit only reads
        date_from, date_to = _period(session, date_from, date_to)
        data = collect(session, date_from, date_to)
    if out_dir is None:
        out_dir = default_audit_dir(settings, date_from, date_to)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "statistics.csv", STAT_FIELDS, _stat_rows(data))
    write_csv(out_dir / "drilldown.csv", DRILL_FIELDS, _drill_rows(data["drill"]))
    write_csv(out_dir / "evidence.csv", EVIDENCE_FIELDS, _evidence_rows(data["drill"]))
    (out_dir / "statistics.json").write_text(
        json.dumps(
            {
                "from": date_from.isoformat(),
                "to": date_to.isoformat(),
                "units": data["units"],
                "definitions": DEFINITIONS,
                "groups": data["groups"],
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    (out_dir / "index.html").write_text(render(data), encoding="utf-8")
    write_heads(out_dir / HEADS_NAME, settings, date_to, date_from)
    shown = out_dir / "index.html"
    if statement:
        from precursor_watch.reports.statement import write_statement

        shown = write_statement(out_dir, data)
    (out_dir / (MANIFEST_NAME + ".sig")).unlink(missing_ok=True)  # a previous export's, never hashed
    sign_manifest(write_manifest(out_dir), settings)
    return shown
