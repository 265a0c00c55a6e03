"""`pwatch review ...` (analyst decisions, labelled export), `pwatch audit` and `pwatch notices
export|overdue`. (`pwatch notify` and `pwatch report` are pipeline steps: see pipeline.py.)

Listing text printed to the terminal goes through `visible_controls`, so a hostile title cannot
move the cursor, recolour the terminal or reorder text with bidi overrides.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
from contextlib import contextmanager
from pathlib import Path

from precursor_watch.commands.argtypes import iso_date
from precursor_watch.database import require_database
from precursor_watch.errors import ConfigError, StateError
from precursor_watch.outputs import output_file, output_folder
from precursor_watch.settings import Settings
from precursor_watch.storage.kinds import ReviewDecision, ReviewState


def _leaf_common() -> argparse.ArgumentParser:
    """`--data-dir` for nested actions: SUPPRESS as default, so `pwatch review --data-dir X list`
    keeps X (argparse would otherwise overwrite it with the nested parser's None)."""
    leaf = argparse.ArgumentParser(add_help=False)
    leaf.add_argument("--data-dir", default=argparse.SUPPRESS, help="data folder (env PWATCH_DATA_DIR, default var/)")
    return leaf


def register(subparsers, common) -> None:
    leaf_common = _leaf_common()
    _register_review(subparsers, common, leaf_common)
    _register_audit(subparsers, common)
    _register_notices(subparsers, common, leaf_common)


def _register_review(subparsers, group_common, common) -> None:
    review = subparsers.add_parser(
        "review",
        parents=[group_common],
        help="analyst review of flagged listings",
        description="List, inspect, confirm or dismiss flagged listings; export decisions as labelled data.",
    )
    actions = review.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list", parents=[common], help="flagged listings awaiting a decision, best score first"
    )
    listing.add_argument(
        "--status",
        default=ReviewState.FLAGGED.value,
        choices=[
            s.value for s in (ReviewState.FLAGGED, ReviewState.CONFIRMED, ReviewState.DISMISSED, ReviewState.REPORTED)
        ],
        help="review state to list (default flagged = awaiting a decision)",
    )
    listing.add_argument("--limit", type=int, help="show at most N listings")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(handler=cmd_review_list)

    show = actions.add_parser("show", parents=[common], help="one listing's case file: flag, evidence, events, reviews")
    show.add_argument("id", type=int, help="listing id (first column of `review list`)")
    show.add_argument("--format", choices=["text", "json"], default="text")
    show.set_defaults(handler=cmd_review_show)

    for decision, verb in ((ReviewDecision.CONFIRMED, "confirm"), (ReviewDecision.DISMISSED, "dismiss")):
        act = actions.add_parser(verb, parents=[common], help=f"{verb} a flagged listing (records who and when)")
        act.add_argument("id", type=int, help="listing id")
        act.add_argument("--note", help="free-text reason kept with the decision")
        act.add_argument("--reviewer", help="who decides (default: $PWATCH_REVIEWER or the login name)")
        act.add_argument(
            "--date",
            type=iso_date,
            help="logical date of the decision, between the flag date and the "
            "database's logical date (default: the database's logical date)",
        )
        act.set_defaults(handler=cmd_review_decide, decision=decision)

    export = actions.add_parser(
        "export", parents=[common], help="confirmed and dismissed listings as labelled JSONL for retraining"
    )
    export.add_argument(
        "--out", required=True, help="output JSONL file (id, title, text, lang, label, decision, reviewer, ...)"
    )
    export.add_argument(
        "--include-automated",
        action="store_true",
        help="also export decisions made by the demo auto-confirm policy (left out: they are no human label)",
    )
    export.set_defaults(handler=cmd_review_export)


def _register_audit(subparsers, group_common) -> None:
    audit = subparsers.add_parser(
        "audit",
        parents=[group_common],
        help="audit report: every statistic with definitions, drill-down, manifest",
        description="Write the audit report for a period: HTML and CSV with every statistic per platform "
        "and in total (unit and definition next to each), a drill-down CSV of the listings and evidence "
        "hashes behind each number, and a SHA-256 manifest.",
    )
    audit.add_argument(
        "action",
        nargs="?",
        choices=["verify", "pack"],
        help="verify: check the signed ledger, the cited WARC "
        "records and (with --export) an audit export's numbers; exit 0 only when every link holds. "
        "pack: the evidence pack of LISTING (zip, to --out)",
    )
    audit.add_argument("listing", nargs="?", metavar="LISTING", help="pack: PLATFORM/LISTING_KEY")
    audit.add_argument(
        "--from", dest="date_from", type=iso_date, help="first logical date (YYYY-MM-DD; required for the report)"
    )
    audit.add_argument(
        "--to", dest="date_to", type=iso_date, help="last logical date (YYYY-MM-DD; required for the report)"
    )
    audit.add_argument(
        "--out",
        help="new or empty output folder (default <data dir>/audit/<from>_<to>/; "
        "refused when an audit is already there, never overwritten)",
    )
    audit.add_argument(
        "--public-key", metavar="FILE", help="verify: the signer's public key (default: the data dir's own)"
    )
    audit.add_argument("--export", metavar="DIR", help="verify: also check this audit export folder")
    audit.add_argument(
        "--statement",
        action="store_true",
        help="report: also write the period's public statement (statement.html / statement.json: platforms "
        "closed, accounts cancelled, stores removed, information cleaned, items reported), each number "
        "linked to its drill-down and the signed heads; `audit verify --export` checks it",
    )
    audit.set_defaults(handler=cmd_audit)


def _register_notices(subparsers, group_common, common) -> None:
    notices = subparsers.add_parser("notices", parents=[group_common], help="export sent notices; list overdue ones")
    nact = notices.add_subparsers(dest="action", metavar="ACTION", required=True)
    nexp = nact.add_parser(
        "export", parents=[common], help="Lumen-like notices.json + DSA statements_of_reasons.csv + manifest"
    )
    nexp.add_argument("--out", help="output folder (default <data dir>/notices/)")
    nexp.add_argument(
        "--date", type=iso_date, help="notices sent up to this logical date, removals observed by it (default: all)"
    )
    nexp.set_defaults(handler=cmd_notices_export)
    over = nact.add_parser(
        "overdue", parents=[common], help="notices without verified removal after `notice_overdue_days`"
    )
    over.add_argument("--date", type=iso_date, help="as of this logical date (default: latest event date)")
    over.add_argument("--format", choices=["table", "json"], default="table")
    over.set_defaults(handler=cmd_notices_overdue)
    failed = nact.add_parser("failed", parents=[common], help="notices whose last delivery failed, with the reason")
    failed.add_argument("--format", choices=["table", "json"], default="table")
    failed.set_defaults(handler=cmd_notices_failed)


@contextmanager
def _session(settings: Settings, write: bool = False):
    from precursor_watch.storage.db import session_scope

    require_database(settings)  # never creates one; refuses corrupt and other-version schemas
    # readers work beside a writer and on read-only copies
    with session_scope(settings.db_url, read_only=not write) as session:
        yield session


def _clean(value) -> str:
    from precursor_watch.reports.safe import visible_controls

    return visible_controls("" if value is None else str(value))


def cmd_review_list(args, settings: Settings) -> int:
    from precursor_watch.reports.review import queue

    with _session(settings) as session:
        rows = queue(session, args.status, args.limit)
    if args.format == "json":
        print(json.dumps([dict(r.__dict__, flagged_on=r.flagged_on.isoformat()) for r in rows], ensure_ascii=False))
        return 0
    print(f"{'id':>6}  {'score':>5}  {'platform':<10} {'flagged':<10}  {'key':<12} title")
    for r in rows:
        print(
            f"{r.listing_id:>6}  {r.score:5.2f}  {_clean(r.platform):<10} {r.flagged_on.isoformat():<10}  "
            f"{_clean(r.listing_key):<12} {_clean(r.title)[:80]}"
        )
    print(f"{len(rows)} listing(s) {args.status}")
    return 0


def cmd_review_show(args, settings: Settings) -> int:
    from precursor_watch.reports.review import ReviewError, case_file

    with _session(settings) as session:
        try:
            case = case_file(session, args.id)
        except ReviewError as exc:
            raise StateError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(case, ensure_ascii=False, indent=1))
        return 0
    for key in (
        "id",
        "platform",
        "listing_key",
        "url",
        "title",
        "account",
        "first_seen_on",
        "status",
        "score",
        "substances",
        "reasons",
        "matched_words",
        "evidence_sha256",
    ):
        value = case[key]
        if isinstance(value, list):
            value = "; ".join(map(str, value))
        print(f"{key:>16}: {_clean(value)}")
    print(f"{'evidence':>16}: {_clean(case['evidence_snippet'])}")
    print("          events:")
    for e in case["events"]:
        print(f"    {e['on']}  {e['kind']:<17} {_clean(e['cause'] or '')}")
    print("         reviews:")
    for r in case["reviews"]:
        print(f"    {r['at']}  {r['decision']:<9} by {_clean(r['reviewer'])}: {_clean(r['note'] or '')}")
    return 0


def _reviewer(args) -> str:
    name = args.reviewer or os.environ.get("PWATCH_REVIEWER")
    if not name:
        try:
            name = getpass.getuser()
        except Exception:  # no login name in some containers
            name = ""
    if not name:
        raise ConfigError("no reviewer: pass --reviewer or set PWATCH_REVIEWER")
    return name


def cmd_review_decide(args, settings: Settings) -> int:
    from precursor_watch.enforcement.review import decide
    from precursor_watch.reports.review import ReviewError
    from precursor_watch.storage.reviews import logical_day
    from precursor_watch.storage.types import logical_ts

    reviewer = _reviewer(args)
    with _session(settings, write=True) as session:
        # a logical date, like every event: never the wall clock, which a simulated world may be ahead of
        day = args.date or logical_day(session)
        if day is None:
            raise StateError("nothing tracked yet: no logical date to date the decision")
        at = logical_ts(day)
        try:
            review_id = decide(session, args.id, args.decision, reviewer, args.note, at)
        except ReviewError as exc:
            raise StateError(str(exc)) from None
    print(
        f"listing {args.id} {args.decision} by {_clean(reviewer)} "
        f"at {at.isoformat(timespec='seconds')} (review {review_id})"
    )
    return 0


def cmd_review_export(args, settings: Settings) -> int:
    from precursor_watch.reports.review import write_labels

    out = output_file(args.out, "--out", settings=settings)
    with _session(settings) as session:
        n = write_labels(session, out, args.include_automated)
    print(f"{n} labelled listing(s) written to {out}")
    return 0


def cmd_audit(args, settings: Settings) -> int:
    from precursor_watch.reports.audit import write_audit_report

    if args.action in ("verify", "pack"):
        from precursor_watch.commands.ledger import cmd_audit_pack, cmd_audit_verify

        with _session(settings) as session:
            return (cmd_audit_verify if args.action == "verify" else cmd_audit_pack)(args, settings, session)
    if args.date_from is None or args.date_to is None:
        raise ConfigError("pwatch audit: --from and --to are required for the report")
    if args.date_to < args.date_from:
        raise ConfigError(f"--to {args.date_to} is before --from {args.date_from}")
    out = output_folder(args.out, "--out", empty=True) if args.out else _new_default_audit_dir(args, settings)
    with _session(settings):  # fails with one clear line when there is no tracking database
        pass
    path = write_audit_report(settings, args.date_from, args.date_to, out, statement=args.statement)
    print(f"{'statement' if args.statement else 'audit report'}: {path}")
    return 0


def _new_default_audit_dir(args, settings: Settings) -> Path:
    """The default audit folder of the period, refused when an earlier audit is already there: a
    signed-off audit is never overwritten behind the auditor's back."""
    from precursor_watch.reports.audit import default_audit_dir

    path = default_audit_dir(settings, args.date_from, args.date_to)
    if path.is_dir() and any(path.iterdir()):
        raise ConfigError(
            f"an audit of {args.date_from} to {args.date_to} already exists in {path}; "
            "give --out NEW_FOLDER, or move the old audit away first"
        )
    return output_folder(path, "audit folder")


def cmd_notices_export(args, settings: Settings) -> int:
    from precursor_watch.reports.notice_export import export_notices

    out = output_folder(args.out if args.out else settings.data_path / "notices", "--out")
    with _session(settings) as session:
        result = export_notices(session, settings, out, args.date)
    print(json.dumps(result))
    return 0


def cmd_notices_overdue(args, settings: Settings) -> int:
    from precursor_watch.reports.queries import latest_event_day, overdue_notices

    with _session(settings) as session:
        day = args.date or latest_event_day(session) or dt.date.today()
        rows = overdue_notices(session, day, int(settings.notice_overdue_days))
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "notice_id": n.notice_id,
                        "platform": n.platform,
                        "ticket": n.ticket,
                        "sent_on": n.sent_on.isoformat(),
                        "days_open": n.days_open,
                        "open_urls": [u for _, u in n.open_listings],
                    }
                    for n in rows
                ]
            )
        )
        return 0
    print(f"as of {day}, overdue after {settings.notice_overdue_days} days:")
    for n in rows:
        print(
            f"  notice {n.notice_id} ({_clean(n.platform)}, ticket {_clean(n.ticket or '-')}), reported {n.sent_on}, "
            f"{n.days_open} days open, {len(n.open_listings)} listing(s) without verified removal"
        )
        for key, url in n.open_listings:
            print(f"      {_clean(key)}  {_clean(url)}")
    print(f"{len(rows)} overdue notice(s)")
    return 0


def cmd_notices_failed(args, settings: Settings) -> int:
    from precursor_watch.reports.queries import failed_notices

    with _session(settings) as session:
        rows = failed_notices(session)
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "notice_id": n.notice_id,
                        "platform": n.platform,
                        "sent_on": n.sent_on.isoformat(),
                        "failure": n.failure,
                    }
                    for n in rows
                ]
            )
        )
        return 0
    for n in rows:
        print(f"  notice {n.notice_id} ({_clean(n.platform)}), recorded {n.sent_on}: {_clean(n.failure)}")
    print(f"{len(rows)} failed notice(s), re-sent on the next `pwatch notify`")
    return 0
