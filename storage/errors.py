"""Errors raised by `storage`.

`storage` imports nothing of ours but the typed items, so it has its own small hierarchy; the
CLI maps these to `pwatch.errors` (StorageError -> StateError / InputError) for one-line output.
"""


class StorageError(Exception):
    """Base of every error the tracking database raises on purpose."""


class IllegalTransition(StorageError):
    """An event would move a listing through a transition the state machine forbids."""


class MalformedItem(StorageError):
    """An item handed to ingest is missing a field or has a wrong type; names item and field."""


class UnknownEntity(StorageError):
    """A referenced listing, run, snapshot or platform does not exist."""
