"""Neutralising listing content for the three places it leaves the database: HTML, CSV, names.

Listing text is hostile by assumption (script tags, event handlers, `javascript:` links,
spreadsheet formulas, right-to-left overrides). Everything a marketplace wrote passes through
one of these functions before it is written anywhere a human opens.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Bidirectional controls (Trojan-Source style spoofing) and C0/C1 controls other than tab and
# line breaks: shown as a visible `[U+XXXX]` marker instead of being interpreted.
_INVISIBLE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# First characters that make a spreadsheet evaluate a cell (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def visible_controls(text: str) -> str:
    """Replace bidi overrides and control characters by a visible, inert `[U+XXXX]` marker."""
    return _INVISIBLE.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def escape_html(value: Any) -> str:
    """Text for an HTML text node or a quoted attribute value."""
    return html.escape(visible_controls("" if value is None else str(value)), quote=True)


def safe_href(url: Any) -> str | None:
    """The URL if it may become a link target (absolute http or https), else None.

    `javascript:`, `data:`, `vbscript:` and relative or scheme-less URLs are never links; the caller
    shows them as text.
    """
    if not isinstance(url, str) or _INVISIBLE.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def neutralise_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet evaluates: text starting with a formula prefix gets a `'`.

    Numbers and booleans stay as they are (a negative number is data, not a formula).
    """
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return value
    text = visible_controls(str(value))
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise_cell(h) for h in header])
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"CSV row has {len(row)} cells, header has {len(header)}: {header!r}")
        writer.writerow([neutralise_cell(cell) for cell in row])
    return buffer.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    path.write_text(csv_text(header, rows), encoding="utf-8")
    return path


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def safe_name(name: str) -> str:
    """Guard for file and folder names we build (dates, ids, platform names from settings).

    Never pass listing text here: this raises rather than cleans, so a mistake is loud.
    """
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"refusing unsafe file name {name!r}")
    return name
