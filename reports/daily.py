"""The daily flag report: `<data dir>/reports/<day>/index.html` + `flags-1.html`... + `flags.csv`
+ `flags.json` + `quarantine.csv`, and the `<data dir>/reports/index.html` page linking every day.

Top: the day's numbers (from storage's statistics, the same as `pwatch stats` for that day), then
the day's new flags by score, inline SVG charts, what changed since the previous day, and the
items of the day's crawls that could not be stored (quarantined), so none is lost without a trace.
The full ranked list of every flag so far is in `flags.csv` and the pages `flags-<n>.html`
(FLAGS_PER_PAGE rows each). With the `console_url` setting, each flag links to its case page and
evidence pack in the review console.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from precursor_watch.ledger.heads import HEADS_NAME, write_heads
from precursor_watch.reports import ReportSettings, charts, queries, stats
from precursor_watch.reports.html import Html, join, link, page, table, tag
from precursor_watch.reports.safe import safe_name, write_csv
from precursor_watch.storage.db import session_scope
from precursor_watch.storage.kinds import EventKind
from precursor_watch.storage.stats import load_event_log

# Day numbers shown at the top, in order: (key in storage stats, label).
DAY_NUMBERS = (
    ("flagged", "new flags"),
    ("confirmed", "confirmed"),
    ("dismissed", "dismissed"),
    ("reported", "reported"),
    ("removed", "removed"),
    ("reappeared", "reappeared"),
    ("relisted", "relisted"),
)

FLAG_FIELDS = [
    "rank",
    "score",
    "platform",
    "listing_key",
    "title",
    "url",
    "account",
    "store",
    "substances",
    "control_status_at_listing_date",
    "reasons",
    "evidence_snippet",
    "matched_words",
    "first_seen_on",
    "flagged_on",
    "status",
    "notice_id",
    "ticket",
    "evidence_sha256",
    "case_url",
]
FLAGS_PER_PAGE = 100
_FLAG_PAGE = re.compile(r"^flags-(\d+)\.html$")

QUARANTINE_FIELDS = ["platform", "kind", "field", "url", "listing_key", "reason", "evidence_sha256"]

CHANGE_LABELS = {
    EventKind.FLAGGED: "newly flagged",
    EventKind.CONFIRMED: "confirmed (by an analyst or the demo auto-confirm policy)",
    EventKind.DISMISSED: "dismissed on review",
    EventKind.REPORTED: "reported to the platform",
    EventKind.REMOVAL_OBSERVED: "removal observed",
    EventKind.REAPPEARED: "reappeared at the same URL",
    EventKind.RELISTED_AS: "relisted (new listing linked to an earlier one)",
    EventKind.ACCOUNT_CLOSED: "account closed",
    EventKind.STORE_CLOSED: "store closed",
    EventKind.PLATFORM_CLOSED: "platform closed",
}


def write_daily_report(settings: ReportSettings, day: dt.date) -> Path:
    """Write the day's report folder and regenerate the reports index; return the day's index.html."""
    folder = Path(settings.data_path) / "reports" / safe_name(day.isoformat())
    folder.mkdir(parents=True, exist_ok=True)
    with session_scope(settings.db_url, read_only=True) as session:  # a report only reads
        data = collect(session, day, int(settings.notice_overdue_days))
    data["console_url"] = str(getattr(settings, "console_url", "") or "")
    write_csv(folder / "flags.csv", FLAG_FIELDS, flag_csv_rows(data["flags"], data["console_url"]))
    write_csv(folder / "quarantine.csv", QUARANTINE_FIELDS, quarantine_csv_rows(data["quarantined"]))
    (folder / "flags.json").write_text(
        json.dumps(to_json(data), ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8"
    )
    (folder / "index.html").write_text(render_day(data), encoding="utf-8")
    write_flag_pages(folder, data)
    write_heads(folder / HEADS_NAME, settings, day)
    write_index(Path(settings.data_path) / "reports")
    return folder / "index.html"


def collect(session: Session, day: dt.date, overdue_days: int) -> dict[str, Any]:
    first = queries.first_event_day(session) or day
    first = min(first, day)
    # One read of the event log and one member computation: the day's numbers are read off the
    # period's members.
    period = stats.period_statistics(load_event_log(session, day), first, day)
    numbers = stats.day_counts(period, day, tuple(key for key, _ in DAY_NUMBERS))
    overdue = queries.overdue_notices(session, day, overdue_days)
    per_day = dict(queries.events_per_day(session, EventKind.FLAGGED, day))
    days = [first + dt.timedelta(days=i) for i in range((day - first).days + 1)]
    return {
        "day": day,
        "first_day": first,
        "numbers": {key: numbers.get(key) for key, _ in DAY_NUMBERS} | {"notices_overdue": len(overdue)},
        "overdue_days": overdue_days,
        "overdue": overdue,
        "failed_notices": queries.failed_notices(session, day),
        "flags": queries.flag_rows(session, day),
        "failed_detections": queries.failed_detections_on(session, day),
        "changes": queries.changes_on(session, day),
        "flags_per_day": [(d, per_day.get(d, 0)) for d in days],
        "funnel": period.total,
        "per_platform": period.per_platform,
        "quarantined": queries.quarantined_on(session, day),
        "unhealthy": queries.unhealthy_runs_on(session, day),
    }


# -- CSV / JSON ----------------------------------------------------------------------------------


def _substances_text(row: queries.FlagRow) -> str:
    return "; ".join(f"{m.name} ({m.substance_id})" for m in row.matches)


def _controls_text(row: queries.FlagRow) -> str:
    parts = []
    for m in row.matches:
        controls = queries.controls_in_force(m, row.first_seen_on)
        status = ", ".join(f"{c.jurisdiction}: {c.status}" for c in controls) or "not controlled on that date"
        if not m.controls:
            status = "no control entry in the lexicon"
        parts.append(f"{m.name}: {status}")
    return "; ".join(parts)


def case_url(console_url: str, listing_id: int) -> str:
    """The listing's case page in the review console; empty when no console URL is set."""
    return f"{console_url}/case/{listing_id}" if console_url else ""


def flag_csv_rows(flags: list[queries.FlagRow], console_url: str = "") -> list[list[Any]]:
    return [
        [
            rank,
            round(r.score, 4),
            r.platform,
            r.listing_key,
            r.title,
            r.url,
            r.account or "",
            r.store or "",
            _substances_text(r),
            _controls_text(r),
            " | ".join(r.reasons),
            r.snippet_text,
            " | ".join(r.highlighted),
            r.first_seen_on.isoformat(),
            r.flagged_on.isoformat(),
            r.status,
            r.notice_id or "",
            r.ticket or "",
            r.evidence_sha256 or "",
            case_url(console_url, r.listing_id),
        ]
        for rank, r in enumerate(flags, 1)
    ]


def quarantine_counts(rows: list[queries.QuarantinedRow]) -> dict[str, dict[str, int]]:
    """{platform: {kind: quarantined items}}, sorted."""
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        by_kind = counts.setdefault(r.platform, {})
        by_kind[r.kind] = by_kind.get(r.kind, 0) + 1
    return {p: dict(sorted(k.items())) for p, k in sorted(counts.items())}


def drift_counts(rows: list[queries.QuarantinedRow]) -> dict[str, dict[str, int]]:
    """{platform: {required field: listing pages where it came out empty}} (layout drift), sorted."""
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        if r.kind != "layout_drift":
            continue
        by_field = counts.setdefault(r.platform, {})
        for name in (r.field or "").split(","):
            by_field[name] = by_field.get(name, 0) + 1
    return {p: dict(sorted(f.items())) for p, f in sorted(counts.items())}


def quarantine_csv_rows(rows: list[queries.QuarantinedRow]) -> list[list[Any]]:
    return [
        [r.platform, r.kind, r.field or "", r.url, r.listing_key or "", r.message, r.evidence_sha256 or ""]
        for r in rows
    ]


def to_json(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "day": data["day"].isoformat(),
        "numbers": data["numbers"],
        "overdue_after_days": data["overdue_days"],
        "flags": [
            dict(zip(FLAG_FIELDS, row, strict=True))
            for row in flag_csv_rows(data["flags"], data.get("console_url", ""))
        ],
        "changes": [
            {
                "kind": c.kind,
                "platform": c.platform,
                "listing_key": c.listing_key,
                "url": c.url,
                "cause": c.cause,
                "related_url": c.related_url,
                "evidence_sha256": c.evidence_sha256,
            }
            for c in data["changes"]
        ],
        "detection_failed": [
            {
                "platform": f.platform,
                "listing_key": f.listing_key,
                "url": f.url,
                "snapshot_id": f.snapshot_id,
                "model_version": f.model_version,
                "reason": f.reason,
            }
            for f in data["failed_detections"]
        ],
        "notices_overdue": [
            {
                "notice_id": n.notice_id,
                "platform": n.platform,
                "ticket": n.ticket,
                "sent_on": n.sent_on.isoformat(),
                "days_open": n.days_open,
                "open_listings": [u for _, u in n.open_listings],
            }
            for n in data["overdue"]
        ],
        "notices_failed": [
            {"notice_id": n.notice_id, "platform": n.platform, "sent_on": n.sent_on.isoformat(), "failure": n.failure}
            for n in data["failed_notices"]
        ],
        "unhealthy_crawls": [
            {"platform": u.platform, "pages": u.pages, "error_rate": u.error_rate, "closed": u.closed}
            for u in data["unhealthy"]
        ],
        "layout_drift": drift_counts(data["quarantined"]),
        "quarantined": {
            "counts": quarantine_counts(data["quarantined"]),
            "items": [
                dict(zip(QUARANTINE_FIELDS, row, strict=True)) for row in quarantine_csv_rows(data["quarantined"])
            ],
        },
    }


# -- HTML ----------------------------------------------------------------------------------------


def _numbers(data: dict[str, Any]) -> Html:
    items = [(key, label, data["numbers"][key]) for key, label in DAY_NUMBERS]
    items.append(
        ("notices_overdue", f"notices overdue (> {data['overdue_days']} days)", data["numbers"]["notices_overdue"])
    )
    return tag(
        "ul",
        *(
            tag("li", tag("span", "–" if v is None else v, class_="value"), label, data_stat=key)
            for key, label, v in items
        ),
        class_="stats",
        id="day-numbers",
    )


def _snippet(row: queries.FlagRow) -> Html:
    return tag("div", *(tag("mark", text) if hit else text for text, hit in row.snippet), class_="snippet")


def _substances_cell(row: queries.FlagRow) -> Html:
    if not row.matches:
        return Html("")
    items = []
    for m in row.matches:
        controls = queries.controls_in_force(m, row.first_seen_on)
        if not m.controls:
            status = "no control entry in the lexicon"
        elif not controls:
            status = "not controlled on that date"
        else:
            status = "; ".join(f"{c.jurisdiction}: {c.status} (since {c.effective})" for c in controls)
        items.append(tag("li", tag("b", m.name), f" CAS {m.substance_id}", tag("br"), tag("small", status)))
    return tag("ul", *items)


def _console_links(console_url: str, listing_id: int) -> Html | str:
    if not console_url:
        return ""
    case = case_url(console_url, listing_id)
    return join([link(case, "case"), tag("br"), link(f"{case}/pack", "evidence pack")])


def _flags_table(flags: list[queries.FlagRow], console_url: str = "", first_rank: int = 1) -> Html:
    headers = [
        "#",
        "score",
        "platform",
        "listing",
        "account",
        "substances (control status at listing date)",
        "reasons",
        "evidence snippet",
        "first seen",
        "status",
        "evidence SHA-256",
    ] + (["console"] if console_url else [])
    rows = []
    for rank, r in enumerate(flags, first_rank):
        rows.append(
            [
                rank,
                f"{r.score:.2f}",
                r.platform,
                join([link(r.url, r.title or r.url), tag("br"), tag("small", r.listing_key, class_="muted")]),
                r.account or "",
                _substances_cell(r),
                tag("ul", *(tag("li", reason) for reason in r.reasons)) if r.reasons else "",
                _snippet(r),
                r.first_seen_on.isoformat(),
                r.status,
                tag("span", r.evidence_sha256 or "", class_="hash"),
            ]
            + ([_console_links(console_url, r.listing_id)] if console_url else [])
        )
    return table(headers, rows, id="flags")


def _failed_detections(data: dict[str, Any]) -> Html:
    if not data["failed_detections"]:
        return tag("p", "The detector judged every new snapshot.", class_="muted")
    rows = [
        [
            f.platform,
            join([link(f.url, f.title or f.url), tag("br"), tag("small", f.listing_key, class_="muted")]),
            "detection failed",
            f.snapshot_id,
            f.model_version,
            tag("code", f.reason),
        ]
        for f in data["failed_detections"]
    ]
    return table(["platform", "listing", "status", "snapshot", "model", "reason"], rows, id="detection-failed")


def _changes(data: dict[str, Any]) -> Html:
    if not data["changes"]:
        return tag("p", "No tracking events on this day.", class_="muted")
    rows = []
    for c in data["changes"]:
        what = link(c.url, c.title or c.url) if c.url else ""
        if c.related_url:
            what = join([what, " → ", link(c.related_url)])
        rows.append(
            [
                CHANGE_LABELS.get(c.kind, c.kind),
                c.platform,
                what,
                c.cause or "",
                tag("span", c.evidence_sha256 or "", class_="hash"),
            ]
        )
    return table(["event", "platform", "listing", "cause", "evidence SHA-256"], rows, id="changes")


def _overdue(data: dict[str, Any]) -> Html:
    if not data["overdue"]:
        return tag("p", "No notice is overdue.", class_="muted")
    rows = [
        [
            n.notice_id,
            n.platform,
            n.ticket or "(no ticket)",
            n.sent_on.isoformat(),
            n.days_open,
            tag("ul", *(tag("li", link(url, key)) for key, url in n.open_listings)),
        ]
        for n in data["overdue"]
    ]
    return table(
        ["notice", "platform", "ticket", "reported on", "days open", "listings without verified removal"],
        rows,
        id="overdue",
    )


def _failed(data: dict[str, Any]) -> Html:
    if not data["failed_notices"]:
        return tag("p", "Every recorded notice was delivered.", class_="muted")
    rows = [[n.notice_id, n.platform, n.sent_on.isoformat(), n.failure] for n in data["failed_notices"]]
    return table(["notice", "platform", "recorded on", "why the last delivery failed"], rows, id="failed-notices")


def _quarantined(data: dict[str, Any]) -> Html:
    rows = data["quarantined"]
    if not rows:
        return tag("p", "No item of this day's crawls was quarantined.", class_="muted")
    counts = quarantine_counts(rows)
    kinds = sorted({kind for by_kind in counts.values() for kind in by_kind})
    count_rows = [
        [platform, *(by_kind.get(k, 0) for k in kinds), sum(by_kind.values())] for platform, by_kind in counts.items()
    ]
    items = [
        [
            r.platform,
            r.kind,
            r.field or "",
            join([link(r.url), tag("br"), tag("small", r.listing_key or "", class_="muted")]),
            r.message,
            tag("span", r.evidence_sha256 or "", class_="hash"),
        ]
        for r in rows
    ]
    return join(
        [
            tag("p", "Live pages whose item could not be stored: each still counts as a sighting, never as a removal."),
            table(["platform", *kinds, "total"], count_rows, id="quarantine-counts"),
            table(["platform", "kind", "field", "listing", "reason", "evidence SHA-256"], items, id="quarantined"),
        ]
    )


def _crawl_health(data: dict[str, Any]) -> Html:
    drift = drift_counts(data["quarantined"])
    if not data["unhealthy"] and not drift:
        return tag("p", "Every crawl of the day was healthy; no layout drift.", class_="muted")
    rows = [
        [
            u.platform,
            u.pages,
            f"{u.error_rate:.3f}",
            ", ".join(f"{name} ({n})" for name, n in drift.get(u.platform, {}).items()) or "none",
        ]
        for u in data["unhealthy"]
    ]
    rows += [
        [p, "", "", ", ".join(f"{n} ({c})" for n, c in f.items())]
        for p, f in drift.items()
        if p not in {u.platform for u in data["unhealthy"]}
    ]
    return join(
        [
            tag(
                "p",
                "Unhealthy crawls never count toward absence. Layout drift: whole listing pages whose required "
                "fields came out empty; update that platform's file (crawlers/platforms/NAME.toml).",
            ),
            table(
                ["platform", "pages", "error rate", "layout drift: required fields empty (pages)"],
                rows,
                id="crawl-health",
            ),
        ]
    )


def _charts(data: dict[str, Any]) -> Html:
    funnel = data["funnel"]
    per_day = charts.column_chart("Flags per day", [charts.Bar(d.isoformat(), n) for d, n in data["flags_per_day"]])
    reported = funnel.get("reported") or 0
    removed_after = round((funnel.get("removal_rate") or 0) * reported)  # rate = removed after report / reported
    stages = [
        charts.Bar("flagged", funnel.get("flagged")),
        charts.Bar("confirmed", funnel.get("confirmed")),
        charts.Bar("reported", reported),
        charts.Bar("removed after report", removed_after),
    ]
    funnel_svg = charts.bar_chart(f"Report to removal funnel, {data['first_day']} to {data['day']}", stages)
    ttr = charts.bar_chart(
        "Hours from report to observed removal, per platform (median, p90 whisker)",
        [
            charts.Bar(name, g.get("median_hours_to_removal"), g.get("p90_hours_to_removal"))
            for name, g in sorted(data["per_platform"].items())
        ],
        unit="h",
    )
    return tag(
        "div",
        tag("figure", per_day, tag("figcaption", "Flags per day")),
        tag("figure", funnel_svg, tag("figcaption", f"Funnel {data['first_day']} – {data['day']}")),
        tag("figure", ttr, tag("figcaption", "Time to removal per platform (hours)")),
        class_="charts",
    )


def _new_flags(data: dict[str, Any]) -> Html:
    new = [r for r in data["flags"] if r.flagged_on == data["day"]]
    if not new:
        return tag("p", "No listing was flagged on this day.", class_="muted")
    return _flags_table(new, data.get("console_url", ""))


def _flag_pages_note(data: dict[str, Any]) -> Html:
    count = flag_page_count(len(data["flags"]))
    pages = [tag("a", f"page {n}", href=f"flags-{n}.html") for n in range(1, count + 1)]
    return tag(
        "p",
        f"All {len(data['flags'])} flags so far, ranked by score: ",
        tag("a", "flags.csv", href="flags.csv"),
        " and ",
        join(pages, ", "),
        f" ({FLAGS_PER_PAGE} per page).",
        id="flag-pages",
    )


def render_day(data: dict[str, Any]) -> str:
    day = data["day"].isoformat()
    new_count = sum(1 for r in data["flags"] if r.flagged_on == data["day"])
    return page(
        f"Precursor Watch — flags {day}",
        tag("h1", f"Daily flag report {day}"),
        tag(
            "p",
            tag("a", "all days", href="../index.html"),
            " · ",
            tag("a", "all flags (page 1)", href="flags-1.html"),
            " · ",
            tag("a", "flags.csv", href="flags.csv"),
            " · ",
            tag("a", "flags.json", href="flags.json"),
            " · ",
            tag("a", "quarantine.csv", href="quarantine.csv"),
        ),
        tag("h2", "The day's numbers"),
        _numbers(data),
        tag("h2", f"New flags of the day, by score ({new_count})"),
        _new_flags(data),
        _flag_pages_note(data),
        tag("h2", "Charts"),
        _charts(data),
        tag("h2", f"Detection failed ({len(data['failed_detections'])}; tried again by the next detect run)"),
        _failed_detections(data),
        tag("h2", "What changed since the previous day"),
        _changes(data),
        tag("h2", f"Notices overdue (no verified removal after {data['overdue_days']} days)"),
        _overdue(data),
        tag("h2", f"Notices not delivered ({len(data['failed_notices'])}; re-sent on the next run)"),
        _failed(data),
        tag("h2", f"Crawl health ({len(data['unhealthy'])} unhealthy)"),
        _crawl_health(data),
        tag("h2", f"Quarantined items ({len(data['quarantined'])})"),
        _quarantined(data),
    )


def flag_page_count(flags: int) -> int:
    """Pages of the full ranked list; one (empty) page when there is no flag yet."""
    return max(1, -(-flags // FLAGS_PER_PAGE))


def render_flag_page(data: dict[str, Any], number: int) -> str:
    """Page `number` (from 1) of every flag so far, ranked by score, with links to its neighbours."""
    day, count = data["day"].isoformat(), flag_page_count(len(data["flags"]))
    first = (number - 1) * FLAGS_PER_PAGE
    shown = data["flags"][first : first + FLAGS_PER_PAGE]
    nav = [tag("a", f"daily report {day}", href="index.html"), " · ", tag("a", "flags.csv", href="flags.csv")]
    if number > 1:
        nav += [" · ", tag("a", "previous page", href=f"flags-{number - 1}.html", rel="prev")]
    if number < count:
        nav += [" · ", tag("a", "next page", href=f"flags-{number + 1}.html", rel="next")]
    return page(
        f"Precursor Watch — flags {day}, page {number} of {count}",
        tag("h1", f"Flags ranked by score, {day}: page {number} of {count}"),
        tag("p", *nav, class_="pages"),
        tag("p", f"Ranks {first + 1} to {first + len(shown)} of {len(data['flags'])}.", class_="muted"),
        _flags_table(shown, data.get("console_url", ""), first_rank=first + 1) if shown else "",
        tag("p", *nav, class_="pages"),
    )


def write_flag_pages(folder: Path, data: dict[str, Any]) -> list[Path]:
    """`flags-1.html`...; pages left from an earlier, longer rendering of the day are removed."""
    count = flag_page_count(len(data["flags"]))
    for stale in folder.iterdir():
        found = _FLAG_PAGE.match(stale.name)
        if found and int(found.group(1)) > count:
            stale.unlink()
    out = []
    for number in range(1, count + 1):
        target = folder / f"flags-{number}.html"
        target.write_text(render_flag_page(data, number), encoding="utf-8")
        out.append(target)
    return out


_DAY_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def write_index(reports_dir: Path) -> Path:
    """`reports/index.html`: every day folder, newest first, with its numbers from flags.json."""
    rows = []
    for folder in sorted((p for p in reports_dir.iterdir() if p.is_dir() and _DAY_DIR.match(p.name)), reverse=True):
        numbers: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            numbers = json.loads((folder / "flags.json").read_text(encoding="utf-8")).get("numbers", {})
        rows.append(
            [tag("a", folder.name, href=f"{folder.name}/index.html")]
            + [numbers.get(k, "") for k, _ in DAY_NUMBERS]
            + [numbers.get("notices_overdue", "")]
        )
    body = table(["day"] + [label for _, label in DAY_NUMBERS] + ["notices overdue"], rows, id="days")
    target = reports_dir / "index.html"
    target.write_text(page("Precursor Watch — daily reports", tag("h1", "Daily flag reports"), body), encoding="utf-8")
    return target
