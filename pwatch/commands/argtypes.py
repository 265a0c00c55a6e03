"""Argument types and the parser class every `pwatch` command uses.

A bad value on the command line is one stderr line naming the option, like every other pwatch
error: `OneLineParser` drops argparse's usage block (`--help` still shows it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import NoReturn


def iso_date(text: str) -> dt.date:
    """A logical date as YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # The same prefix as every other pwatch error; the command is named in the help hint.
        message = message.removeprefix("argument ")  # "--date: expected YYYY-MM-DD, got ..."
        line = " ".join(f"pwatch: error: {message} (see {self.prog} --help)".split())
        sys.stderr.write(line + "\n")
        sys.exit(2)
