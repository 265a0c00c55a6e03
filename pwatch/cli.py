"""`pwatch`: the one entry point.

Each command group lives in its own module under `pwatch/commands/` and exposes
`register(subparsers, common)`; this module only assembles them and turns `PwatchError` into one
line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from pwatch import redact
from pwatch.datalock import creates_data_dir, data_dir_lock, lock_mode
from pwatch.errors import PwatchError
from pwatch.settings import load_settings

# Command modules, imported lazily per invocation so `pwatch --help` stays fast.
COMMAND_MODULES = (
    "pwatch.commands.fixtures",
    "pwatch.commands.crawl",
    "pwatch.commands.nlp",
    "pwatch.commands.storage",
    "pwatch.commands.pipeline",
    "pwatch.commands.reporting",
)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data folder (env PWATCH_DATA_DIR, default var/)")
    parser = argparse.ArgumentParser(
        prog="pwatch",
        description="Precursor Watch: monitor marketplaces for fentanyl-precursor offers and audit takedowns.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command group not written yet
                continue
            raise
        module.register(subparsers, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    redact.install()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(data_dir=args.data_dir)
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        # Writers hold the data dir's lock for the whole command; readers take none.
        with data_dir_lock(settings.data_path, lock_mode(args), creates_data_dir(args)):
            result = args.handler(args, settings)
    except PwatchError as exc:
        print(f"pwatch: error: {redact.redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pwatch: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
