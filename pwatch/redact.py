"""Database URLs without their passwords, wherever text leaves the process.

`display_url` is for the places that print a URL on purpose; `redact` masks any
`scheme://user:password@` inside free text (error messages of drivers, log lines, tracebacks);
`install` puts `redact` in front of every log record and uncaught traceback of this process.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback

_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"]*):([^\s@'\"]+)@")
MASK = "***"


def redact(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***."""
    return _CREDENTIALS.sub(rf"\1:{MASK}@", text)


def display_url(url: str) -> str:
    """A database URL fit for output (one rule with `pwatch.errors.mask_url`)."""
    from precursor_watch.errors import mask_url

    return mask_url(url)


def _redacting_factory(make_record):
    def factory(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's to report, not ours
            return record
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return record

    factory.pwatch_redacting = True  # type: ignore[attr-defined]
    return factory


def _redacting_excepthook(hook):
    def excepthook(kind, value, tb) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))

    excepthook.pwatch_redacting = True  # type: ignore[attr-defined]
    return excepthook


def install() -> None:
    """Mask URL passwords in every log record and uncaught traceback of this process (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "pwatch_redacting", False):
        logging.setLogRecordFactory(_redacting_factory(current))
    if not getattr(sys.excepthook, "pwatch_redacting", False):
        sys.excepthook = _redacting_excepthook(sys.excepthook)
