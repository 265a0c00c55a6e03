"""Argument types and the parser class every `pwatch` command uses.

A bad value on the command line is one stderr line naming the option, like every other pwatch
error: `OneLineParser` drops argparse's usage block (`--help` still shows it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import NoReturn

from precursor_watch import redact


def iso_date(text: str) -> dt.date:
    """A logical date as YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one `pwatch: error:` line like every other error (argparse would print the
    whole usage block first); the usage stays one `--help` away. Sub-command parsers inherit it."""

    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix("pwatch").strip()
        message = message.removeprefix("argument ")  # "--date: expected YYYY-MM-DD, got ..."
        text = " ".join(f"{where + ': ' if where else ''}{message}".split())
        sys.stderr.write(f"pwatch: error: {redact.redact(text)} (see `{self.prog} --help`)\n")
        sys.exit(2)
