"""The tracking database as the CLI opens it: checked first, problems as one `PwatchError` line."""

from __future__ import annotations

from precursor_watch.errors import ConfigError, DatabaseError, PwatchError, ServiceError, mask_url
from precursor_watch.settings import Settings


def as_pwatch_error(exc: Exception, url: str) -> PwatchError:
    """The one-line error for a `storage.db.DatabaseProblem` on `url` (password masked)."""
    from precursor_watch.storage.db import DatabaseMissing, DatabaseUnreachable

    message = f"tracking database {mask_url(url)}: {exc}"
    if isinstance(exc, DatabaseUnreachable):
        return ServiceError(message)
    if isinstance(exc, DatabaseMissing):
        return ConfigError(f"no tracking database at {mask_url(url)}: {exc}")
    return DatabaseError(message)  # corrupt, or another version's schema


def require_database(settings: Settings) -> str | None:
    """Check the tracking database before a command reads or writes it; return its revision.

    A missing database is an error here, never created: a mistyped `--data-dir` must not leave
    an empty database behind.
    """
    from precursor_watch.storage.db import DatabaseProblem, verify_database

    try:
        return verify_database(settings.db_url)
    except DatabaseProblem as exc:
        raise as_pwatch_error(exc, settings.db_url) from None
