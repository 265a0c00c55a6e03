"""The documented exception hierarchy.

Every error a user can cause (bad option, bad file, bad config, unreachable service) is a
`PwatchError`; the CLI prints it as one line and exits non-zero. Anything else is a bug and keeps
its traceback.
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
