"""`pwatch`: the one entry point.

Each command group lives in its own module under `pwatch/commands/` and exposes
`register(subparsers, common)`; this module only assembles them and turns every error into one
line on stderr and a non-zero exit: `PwatchError` (and the database problems of `storage.db`) as
`pwatch: error: ...`, anything else (a bug) as `pwatch: internal error: ...` naming the exception
and where it was raised, with the traceback under `--debug` or `PWATCH_LOG_LEVEL=DEBUG`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback

from precursor_watch import redact
from precursor_watch.commands.argtypes import OneLineParser
from precursor_watch.datalock import creates_data_dir, data_dir_lock, lock_mode
from precursor_watch.errors import PwatchError, StateError
from precursor_watch.settings import load_settings

# Command modules, imported lazily per invocation so `pwatch --help` stays fast.
COMMAND_MODULES = (
    "precursor_watch.commands.fixtures",
    "precursor_watch.commands.crawl",
    "precursor_watch.commands.platforms",
    "precursor_watch.commands.nlp",
    "precursor_watch.commands.storage",
    "precursor_watch.commands.pipeline",
    "precursor_watch.commands.reporting",
    "precursor_watch.commands.ledger",
    "precursor_watch.commands.console",
)


# `pwatch --help` lists the commands in the order a user meets them: the demo run, the daily work
# (crawl, flag, review, notices), the numbers (stats, report, audit), the single steps of the daily
# run, operations, then the detector's and the fixture world's tools. tests/test_cli_help.py checks
# that every command is placed here.
HELP_ORDER = (
    "run",
    "crawl",
    "flag",
    "review",
    "notices",
    "stats",
    "report",
    "audit",
    "console",
    "users",
    "keys",
    "detect",
    "reconcile",
    "notify",
    "airflow",
    "db",
    "platforms",
    "nlp",
    "fixtures",
)

DEBUG_HELP = "show the traceback of an internal error (also PWATCH_LOG_LEVEL=DEBUG)"
EX_SOFTWARE = 70  # sysexits.h: internal software error


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data folder (env PWATCH_DATA_DIR, default var/)")
    # SUPPRESS: a subcommand's default must not overwrite `pwatch --debug COMMAND`.
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    parser = OneLineParser(
        prog="pwatch",
        description="Precursor Watch: monitor marketplaces for fentanyl-precursor offers and audit takedowns.",
    )
    parser.add_argument("--debug", action="store_true", default=False, help=DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers, common)
    _in_help_order(subparsers)
    return parser


def _in_help_order(subparsers: argparse._SubParsersAction) -> None:
    """Sort the help's command list by HELP_ORDER (argparse lists them as registered)."""
    rank = {name: i for i, name in enumerate(HELP_ORDER)}
    subparsers._choices_actions.sort(key=lambda action: rank.get(action.dest, len(HELP_ORDER)))


def _say(line: str) -> None:
    """One line on stderr, whatever the message holds (newlines, lone surrogates)."""
    text = " | ".join(part.strip() for part in str(line).splitlines() if part.strip())
    sys.stderr.write(text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
    sys.stderr.flush()


def _debug(args) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("PWATCH_LOG_LEVEL", "").strip().upper() == "DEBUG"


def _known_error(exc: BaseException, settings) -> PwatchError | None:
    """The one-line error for an expected failure outside `PwatchError`, or None (a bug)."""
    from precursor_watch.storage.errors import StorageError

    if isinstance(exc, PwatchError):
        return exc
    if settings is None or not isinstance(exc, StorageError):
        return _database_failure(exc, settings)
    from precursor_watch.database import as_pwatch_error
    from precursor_watch.storage.db import DatabaseProblem

    if isinstance(exc, DatabaseProblem):
        return as_pwatch_error(exc, settings.db_url)
    return StateError(str(exc))


def _database_failure(exc: BaseException, settings) -> PwatchError | None:
    """The database server or file failing under a command (gone, locked, read-only, malformed)."""
    from sqlalchemy import exc as sa_exc

    from precursor_watch.errors import ServiceError, mask_url

    if settings is None or type(exc) not in (sa_exc.OperationalError, sa_exc.DatabaseError):
        return None
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return ServiceError(f"tracking database {mask_url(settings.db_url)}: {reason[0] if reason else 'failed'}")


def _internal_error(exc: BaseException) -> None:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {frame.filename}:{frame.lineno}" if frame else ""
    _say(
        f"pwatch: internal error{where}: {exc.__class__.__name__}: {redact.redact(str(exc))} "
        "(a bug; rerun with --debug for the traceback)"
    )


def main(argv: list[str] | None = None) -> int:
    redact.install()
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = None
    try:
        settings = load_settings(data_dir=args.data_dir)
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        # Writers hold the data dir's lock for the whole command; readers take none.
        with data_dir_lock(settings.data_path, lock_mode(args), creates_data_dir(args, settings)):
            result = args.handler(args, settings)
    except KeyboardInterrupt:
        print("pwatch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every error ends here: one line, or the traceback under --debug
        known = _known_error(exc, settings)
        if known is not None:
            _say(f"pwatch: error: {redact.redact(str(known))}")
            return known.exit_code
        if _debug(args):
            raise
        _internal_error(exc)
        return EX_SOFTWARE
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
