"""Checks on output paths before a command writes anything: never into a folder given as a file,
never over one of its own inputs or the tracking database, never into a folder holding other files
where a manifest would then vouch for them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from precursor_watch.errors import ConfigError


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _protected(settings) -> list[Path]:
    """Files no output may overwrite: the SQLite tracking database and its journal files."""
    if settings is None or settings.database_url:
        return []
    db = settings.data_path / "pwatch.db"
    return [db, db.with_name("pwatch.db-wal"), db.with_name("pwatch.db-shm")]


def _parent_is_folder(path: Path, option: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{option} {path}: {parent} is not a folder")
            return


def output_file(raw: str, option: str, inputs: Iterable[str | Path] = (), settings=None) -> Path:
    """An output file path that is not a folder, not one of `inputs` and not the database."""
    path = Path(raw)
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a folder; give a file name")
    _parent_is_folder(path, option)
    for other in inputs:
        if _same(path, Path(other)) or path.resolve() == Path(other).resolve():
            raise ConfigError(f"{option} {path} is also an input ({other}); give another file name")
    for other in _protected(settings):
        if _same(path, other) or path.resolve() == other.resolve():
            raise ConfigError(f"{option} {path} is the tracking database; give another file name")
    return path


def output_folder(raw: str | Path, option: str, empty: bool = False) -> Path:
    """An output folder path that is not a file; with `empty`, new or empty."""
    path = Path(raw)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path} is a file; give a folder")
    _parent_is_folder(path, option)
    if empty and path.is_dir() and any(path.iterdir()):
        raise ConfigError(
            f"{option} {path} is not empty: give a new or empty folder "
            "(its manifest would vouch for the files already there)"
        )
    return path
