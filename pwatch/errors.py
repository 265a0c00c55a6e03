"""The documented exception hierarchy.

Every error a user can cause (bad option, bad file, bad config, unreachable service) is a
`PwatchError`; the CLI prints it as one line and exits non-zero. Anything else is a bug: the CLI
names it in one line (exception, file and line) and shows the traceback under `--debug` or
`PWATCH_LOG_LEVEL=DEBUG`.
"""


class PwatchError(Exception):
    """Base of every expected, user-facing error."""

    exit_code = 2


class ConfigError(PwatchError):
    """A setting, option or world config is invalid (names the setting or field)."""


class InputError(PwatchError):
    """An input file is malformed (names the file and line)."""


class ServiceError(PwatchError):
    """A service we depend on (fixture server, database, Airflow) did not answer."""

    exit_code = 3


class StateError(PwatchError):
    """A tracking transition or stored state is illegal; nothing was written."""


class DatabaseError(PwatchError):
    """The tracking database is missing, corrupt, read-only or of another schema version."""


def mask_url(url: str) -> str:
    """A database URL fit for output: the password hidden; an unparseable URL is not echoed."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # any parse failure: show nothing of it rather than a secret
        return "<unparseable database URL>"
