"""`pwatch db upgrade|check`, `pwatch reconcile --date D` and `pwatch stats` (tracking database)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from precursor_watch.commands.argtypes import iso_date
from precursor_watch.database import require_database
from precursor_watch.errors import ConfigError, DatabaseError, ServiceError, StateError, mask_url
from precursor_watch.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def register(subparsers, common) -> None:
    db = subparsers.add_parser("db", help="tracking database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    up = db_sub.add_parser("upgrade", parents=[common], help="apply Alembic migrations up to head (creates the DB)")
    up.set_defaults(handler=cmd_upgrade)
    chk = db_sub.add_parser(
        "check",
        parents=[common],
        help="integrity and schema-version check (read-only)",
        description="Run the database's own integrity checks (SQLite integrity_check and "
        "foreign_key_check; PostgreSQL invalid indexes and unvalidated constraints), compare "
        "the tables with the models and the schema revision with this code's. Exit 0 when "
        "all pass; otherwise one line naming the first problem. Writes nothing.",
    )
    chk.set_defaults(handler=cmd_check)

    rec = subparsers.add_parser(
        "reconcile",
        parents=[common],
        help="turn one date's crawls into removals, reappearances, closures and relistings",
        description="Reconcile a logical date: explicit gone pages and K consecutive healthy absences "
        "(setting absence_k) become removals; unhealthy crawls (error rate over crawl_error_threshold) "
        "never count. Rerunning a date changes nothing.",
    )
    rec.add_argument("--date", type=iso_date, required=True, help="logical date (YYYY-MM-DD)")
    rec.set_defaults(handler=cmd_reconcile)

    st = subparsers.add_parser(
        "stats",
        parents=[common],
        help="audit statistics over the event log",
        description="Takedown statistics for a period (inclusive logical dates), in total and per "
        "platform, account or store. --explain lists the listings and evidence behind one number.",
    )
    st.add_argument("--from", dest="date_from", type=iso_date, help="first logical date (default: unbounded)")
    st.add_argument("--to", dest="date_to", type=iso_date, help="last logical date (default: unbounded)")
    st.add_argument("--by", choices=("platform", "account", "store"), help="also give per-group numbers")
    st.add_argument("--format", choices=("table", "csv", "json"), default="table")
    st.add_argument(
        "--explain",
        metavar="STATISTIC",
        help="list the listings behind one statistic and the WARC record "
        "(file, record id, target URI, hash) of each event",
    )
    st.add_argument(
        "--group", help="with --explain and --by: the one group to explain (default: every group of --by, each in turn)"
    )
    st.set_defaults(handler=cmd_stats)


@contextmanager
def _session(settings: Settings, read_only: bool = False) -> Iterator[Session]:
    from sqlalchemy.exc import OperationalError

    from precursor_watch.storage.db import session_scope

    require_database(settings)  # never creates one; refuses corrupt and other-version schemas
    with session_scope(settings.db_url, read_only=read_only) as session:
        try:
            session.connection().exec_driver_sql("SELECT 1")
        except OperationalError as exc:
            raise ServiceError(f"tracking database {mask_url(settings.db_url)} not reachable: {exc.orig}") from None
        yield session


def cmd_upgrade(args, settings: Settings) -> int:
    from sqlalchemy.exc import OperationalError

    from precursor_watch.storage.db import upgrade

    if not settings.database_url:  # the SQLite file lives in the data dir
        settings.data_path.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(settings.db_url)
    except OperationalError as exc:
        raise ServiceError(f"tracking database {mask_url(settings.db_url)}: {exc.orig}") from None
    print(f"tracking database at head: {mask_url(settings.db_url)}")
    return 0


def cmd_check(args, settings: Settings) -> int:
    from precursor_watch.storage.db import integrity_problems

    revision = require_database(settings)
    problems = integrity_problems(settings.db_url)
    if problems:
        raise DatabaseError(f"tracking database {mask_url(settings.db_url)} fails its check: {'; '.join(problems)}")
    print(f"tracking database {mask_url(settings.db_url)}: ok (schema revision {revision})")
    return 0


def _require_schema(session, settings: Settings) -> None:
    from sqlalchemy import inspect

    if not inspect(session.connection()).has_table("events"):
        raise ConfigError(f"tracking database {mask_url(settings.db_url)} has no tables: run `pwatch db upgrade` first")


def cmd_reconcile(args, settings: Settings) -> int:
    from dataclasses import asdict

    from precursor_watch.storage.errors import StorageError
    from precursor_watch.storage.reconcile import reconcile_date

    try:
        with _session(settings) as session:
            _require_schema(session, settings)
            summary = reconcile_date(
                session, args.date, absence_k=settings.absence_k, error_threshold=settings.crawl_error_threshold
            )
    except StorageError as exc:
        raise StateError(f"reconcile {args.date}: {exc}") from None
    print(json.dumps(asdict(summary), indent=2))
    return 0


def cmd_stats(args, settings: Settings) -> int:
    from precursor_watch.reports.safe import csv_text
    from precursor_watch.storage.statistics import METRICS, UNITS
    from precursor_watch.storage.stats import compute_stats, explain, explain_groups

    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise ConfigError(f"--from {args.date_from} is after --to {args.date_to}")
    if args.explain and args.explain not in METRICS:
        raise ConfigError(f"--explain: unknown statistic {args.explain!r}; one of {', '.join(METRICS)}")
    if args.group and not (args.explain and args.by):
        raise ConfigError("--group needs --explain and --by")
    with _session(settings, read_only=True) as session:
        _require_schema(session, settings)
        if args.explain and args.by and not args.group:
            groups = explain_groups(session, args.explain, args.by, args.date_from, args.date_to)
            _print_explain_groups(groups, args.by, args.format)
            return 0
        if args.explain:
            rows = explain(session, args.explain, args.date_from, args.date_to, by=args.by, group=args.group)
            _print_explain(rows, args.format)
            return 0
        result = compute_stats(session, args.date_from, args.date_to, by=args.by)
    if args.format == "json":
        print(json.dumps(result, indent=2, sort_keys=False))
    elif args.format == "csv":
        # Group names carry account and store keys the marketplaces chose: neutralised like a report.
        csv_rows = [
            [name, *(numbers[m] for m in METRICS)]
            for name, numbers in [("total", result["total"]), *result["groups"].items()]
        ]
        sys.stdout.write(csv_text(["group", *METRICS], csv_rows))
    else:
        names = ["total", *result["groups"]]
        columns = [result["total"], *result["groups"].values()]
        width = max(len(m) for m in METRICS) + 2
        print(f"{'statistic':<{width}}{'unit':<24}" + "".join(f"{n:>22}" for n in names))
        for m in METRICS:
            cells = "".join(f"{_cell(c[m]):>22}" for c in columns)
            print(f"{m:<{width}}{UNITS[m]:<24}{cells}")
    return 0


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


EXPLAIN_CSV_HEADER = [
    "subject",
    "id",
    "platform",
    "listing_key",
    "url",
    "counted",
    "value",
    "evidence_sha256",
    "warc_file",
    "warc_record_id",
    "target_uri",
]


def _explain_csv_rows(rows) -> list[list]:
    lines = []
    for r in rows:
        cited = [
            " ".join(e.get(name) or "-" for e in r["evidence"])
            for name in ("evidence_sha256", "warc_file", "warc_record_id", "target_uri")
        ]
        lines.append(
            [
                r["subject"],
                r["id"],
                r.get("platform", ""),
                r.get("listing_key", ""),
                r.get("url", ""),
                r["counted"],
                r["value"],
                *cited,
            ]
        )
    return lines


def _print_explain_groups(groups: dict[str, list], by: str, fmt: str) -> None:
    """`--explain` with `--by` and no `--group`: the members behind the number of every group."""
    from precursor_watch.reports.safe import csv_text, visible_controls

    if fmt == "json":
        print(json.dumps(groups, indent=2))
    elif fmt == "csv":
        lines = [[group, *line] for group, rows in groups.items() for line in _explain_csv_rows(rows)]
        sys.stdout.write(csv_text(["group", *EXPLAIN_CSV_HEADER], lines))
    else:
        for group, rows in groups.items():
            print(f"== {by} {visible_controls(group)}")
            _print_explain(rows, fmt)
        print(f"{len(groups)} group(s)")


def _print_explain(rows, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    if fmt == "csv":
        from precursor_watch.reports.safe import csv_text

        sys.stdout.write(csv_text(EXPLAIN_CSV_HEADER, _explain_csv_rows(rows)))
        return
    for r in rows:
        ident = (
            f"{r.get('platform')}/{r.get('listing_key')}" if r["subject"] == "listing" else f"{r['subject']} {r['id']}"
        )
        events = ", ".join(f"{e['event']}@{e['on']}:{(e.get('evidence_sha256') or '-')[:12]}" for e in r["evidence"])
        flag = "" if r["counted"] else " (not counted)"
        value = "" if r["value"] is None else f" value={r['value']:.1f}"
        print(f"{ident}{flag}{value}  {events}")
        for e in r["evidence"]:
            if e.get("warc_record_id"):
                print(
                    f"    {e['event']}@{e['on']} {e['warc_file']} {e['warc_record_id']} {e.get('target_uri') or '-'} "
                    f"sha256:{e.get('evidence_sha256') or '-'}"
                )
    print(f"{len(rows)} subject(s)")
