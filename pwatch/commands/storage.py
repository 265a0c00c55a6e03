"""`pwatch db upgrade|check`, `pwatch reconcile --date D` and `pwatch stats` (tracking database)."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys

from precursor_watch.database import require_database
from precursor_watch.errors import ConfigError, DatabaseError, ServiceError, StateError, mask_url
from precursor_watch.settings import Settings


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def register(subparsers, common) -> None:
    db = subparsers.add_parser("db", help="tracking database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    up = db_sub.add_parser("upgrade", parents=[common], help="apply Alembic migrations up to head (creates the DB)")
    up.set_defaults(handler=cmd_upgrade)
    chk = db_sub.add_parser("check", parents=[common], help="integrity and schema-version check (read-only)",
                            description="Run the database's own integrity checks (SQLite integrity_check and "
                            "foreign_key_check; PostgreSQL invalid indexes and unvalidated constraints), compare "
                            "the tables with the models and the schema revision with this code's. Exit 0 when "
                            "all pass; otherwise one line naming the first problem. Writes nothing.")
    chk.set_defaults(handler=cmd_check)

    rec = subparsers.add_parser(
        "reconcile", parents=[common],
        help="turn one date's crawls into removals, reappearances, closures and relistings",
        description="Reconcile a logical date: explicit gone pages and K consecutive healthy absences "
        "(setting absence_k) become removals; unhealthy crawls (error rate over crawl_error_threshold) "
        "never count. Rerunning a date changes nothing.",
    )
    rec.add_argument("--date", type=_date, required=True, help="logical date (YYYY-MM-DD)")
    rec.set_defaults(handler=cmd_reconcile)

    st = subparsers.add_parser(
        "stats", parents=[common], help="audit statistics over the event log",
        description="Takedown statistics for a period (inclusive logical dates), in total and per "
        "platform, account or store. --explain lists the listings and evidence behind one number.",
    )
    st.add_argument("--from", dest="date_from", type=_date, help="first logical date (default: unbounded)")
    st.add_argument("--to", dest="date_to", type=_date, help="last logical date (default: unbounded)")
    st.add_argument("--by", choices=("platform", "account", "store"), help="also give per-group numbers")
    st.add_argument("--format", choices=("table", "csv", "json"), default="table")
    st.add_argument("--explain", metavar="STATISTIC",
                    help="list the listings behind one statistic and the WARC record "
                    "(file, record id, target URI, hash) of each event")
    st.add_argument("--group", help="with --explain and --by: the group to explain (default: the total)")
    st.set_defaults(handler=cmd_stats)


def _session(settings: Settings, read_only: bool = False):
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    from precursor_watch.storage.db import make_engine

    require_database(settings)  # never creates one; refuses corrupt and other-version schemas
    engine = make_engine(settings.db_url, read_only=read_only)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except OperationalError as exc:
        raise ServiceError(f"tracking database {mask_url(settings.db_url)} not reachable: {exc.orig}") from None
    return engine, Session(engine)


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

    if not inspect(session.get_bind()).has_table("events"):
        raise ConfigError(f"tracking database {mask_url(settings.db_url)} has no tables: run `pwatch db upgrade` first")


def cmd_reconcile(args, settings: Settings) -> int:
    from dataclasses import asdict

    from precursor_watch.storage.errors import StorageError
    from precursor_watch.storage.reconcile import reconcile_date

    engine, session = _session(settings)
    try:
        with session, session.begin():
            _require_schema(session, settings)
            summary = reconcile_date(session, args.date, absence_k=settings.absence_k,
                                     error_threshold=settings.crawl_error_threshold)
    except StorageError as exc:
        raise StateError(f"reconcile {args.date}: {exc}") from None
    finally:
        engine.dispose()
    print(json.dumps(asdict(summary), indent=2))
    return 0


def cmd_stats(args, settings: Settings) -> int:
    from precursor_watch.storage.stats import METRICS, UNITS, compute_stats, explain

    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise ConfigError(f"--from {args.date_from} is after --to {args.date_to}")
    if args.explain and args.explain not in METRICS:
        raise ConfigError(f"--explain: unknown statistic {args.explain!r}; one of {', '.join(METRICS)}")
    if args.group and not (args.explain and args.by):
        raise ConfigError("--group needs --explain and --by")
    engine, session = _session(settings, read_only=True)
    try:
        with session:
            _require_schema(session, settings)
            if args.explain:
                rows = explain(session, args.explain, args.date_from, args.date_to, by=args.by, group=args.group)
                _print_explain(rows, args.format)
                return 0
            result = compute_stats(session, args.date_from, args.date_to, by=args.by)
    finally:
        engine.dispose()
    if args.format == "json":
        print(json.dumps(result, indent=2, sort_keys=False))
    elif args.format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["group", *METRICS])
        for name, numbers in [("total", result["total"]), *result["groups"].items()]:
            writer.writerow([name, *["" if numbers[m] is None else numbers[m] for m in METRICS]])
        sys.stdout.write(out.getvalue())
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


def _print_explain(rows, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["subject", "id", "platform", "listing_key", "url", "counted", "value", "evidence_sha256",
                         "warc_file", "warc_record_id", "target_uri"])
        for r in rows:
            cited = [" ".join(e.get(name) or "-" for e in r["evidence"])
                     for name in ("evidence_sha256", "warc_file", "warc_record_id", "target_uri")]
            writer.writerow([r["subject"], r["id"], r.get("platform", ""), r.get("listing_key", ""), r.get("url", ""),
                             r["counted"], "" if r["value"] is None else r["value"], *cited])
        return
    for r in rows:
        ident = f"{r.get('platform')}/{r.get('listing_key')}" if r["subject"] == "listing" else f"{r['subject']} {r['id']}"
        events = ", ".join(f"{e['event']}@{e['on']}:{(e.get('evidence_sha256') or '-')[:12]}" for e in r["evidence"])
        flag = "" if r["counted"] else " (not counted)"
        value = "" if r["value"] is None else f" value={r['value']:.1f}"
        print(f"{ident}{flag}{value}  {events}")
        for e in r["evidence"]:
            if e.get("warc_record_id"):
                print(f"    {e['event']}@{e['on']} {e['warc_file']} {e['warc_record_id']} {e.get('target_uri') or '-'} "
                      f"sha256:{e.get('evidence_sha256') or '-'}")
    print(f"{len(rows)} subject(s)")


