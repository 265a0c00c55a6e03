"""One writer per data dir: an advisory lock (`flock`) on `<data_dir>/.lock`.

The kernel releases a `flock` when the last descriptor of it closes, so a SIGKILLed holder leaves
no stale lock behind. The file's content names the holder (pid, command, host, start time) for
the one-line refusal a second writer gets.

Children of the holder (crawls, the fixture server, Airflow) do not lock again: the holder passes
its descriptor down (`pwatch.children.child_options`) and names it in `PWATCH_LOCK_FD` and
`PWATCH_LOCK_PATH`. Because they keep the descriptor open, the lock is only free once the whole
process tree is gone; a rerun that finds the holder itself dead waits briefly for its dying
children instead of racing them.

Crawls of different sites or shards run side by side by design, so `pwatch crawl` takes the lock
shared: any number of crawls together, but never a crawl beside another writer.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from precursor_watch.errors import ConfigError, PwatchError
from precursor_watch.redact import redact

LOCK_NAME = ".lock"
FD_VARIABLE = "PWATCH_LOCK_FD"
PATH_VARIABLE = "PWATCH_LOCK_PATH"
EXCLUSIVE, SHARED = "exclusive", "shared"
# How long a writer waits for the children of a holder that is itself already dead.
ORPHAN_WAIT_SECONDS = 30.0

# Commands by their words (`review confirm` = ("review", "confirm")) and the lock they take.
# Anything not listed (stats, review list/show/export, notices overdue, flag, fixtures ...) only
# reads the data dir and takes no lock.
WRITERS: dict[tuple[str, ...], str] = {
    ("run",): EXCLUSIVE,
    ("airflow",): EXCLUSIVE,
    ("crawl",): SHARED,
    ("detect",): EXCLUSIVE,
    ("reconcile",): EXCLUSIVE,
    ("notify",): EXCLUSIVE,
    ("report",): EXCLUSIVE,
    ("audit",): EXCLUSIVE,
    ("db", "upgrade"): EXCLUSIVE,
    ("nlp", "train"): EXCLUSIVE,
    ("review", "confirm"): EXCLUSIVE,
    ("review", "dismiss"): EXCLUSIVE,
    ("notices", "export"): EXCLUSIVE,
    ("users", "add"): EXCLUSIVE,
    ("users", "disable"): EXCLUSIVE,
}


# Writers that may start from no data dir at all; the others need one and never create it.
CREATORS = {("run",), ("airflow",), ("crawl",), ("db", "upgrade"), ("nlp", "train")}


class DataDirBusy(PwatchError):
    """Another process writes to this data dir."""

    exit_code = 4


def command_words(args) -> tuple[str, ...]:
    """The command and sub-command an argparse namespace was parsed for."""
    words = [args.command]
    for dest in ("db_command", "nlp_command", "fixtures_command", "action"):
        value = getattr(args, dest, None)
        if value:
            words.append(value)
    return tuple(words)


def lock_mode(args) -> str | None:
    return WRITERS.get(command_words(args))


def creates_data_dir(args, settings) -> bool:
    """Whether this command may create a missing data dir (upgrading a server database needs none)."""
    words = command_words(args)
    if words == ("db", "upgrade") and settings.database_url:
        return False
    return words in CREATORS


@contextmanager
def data_dir_lock(data_dir: Path, mode: str | None, create: bool = True) -> Iterator[None]:
    """Hold the data dir's lock (`mode` exclusive or shared; None = no lock) for the block.

    `create` False: a missing data dir is left missing (the command reports it), unlocked."""
    path = (Path(data_dir) / LOCK_NAME).resolve()
    if mode is None or _inherited(path) or (not create and not path.parent.is_dir()):
        yield
        return
    created = _missing_dirs(path.parent)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ConfigError(f"data dir {path.parent}: cannot take its lock for writing: {exc.strerror or exc}") from None
    try:
        _acquire(fd, path, mode)
        _write_holder(fd)
        previous = {k: os.environ.get(k) for k in (FD_VARIABLE, PATH_VARIABLE)}
        os.environ.update({FD_VARIABLE: str(fd), PATH_VARIABLE: str(path)})
        try:
            yield
        except BaseException:
            _remove_if_only_lock(path, created)  # a command that failed leaves no data dir behind
            raise
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


def _missing_dirs(folder: Path) -> list[Path]:
    """The folders from `folder` upwards that do not exist yet (deepest first)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_if_only_lock(path: Path, created: list[Path]) -> None:
    """Undo the data dir this lock created, if the command put nothing else in it."""
    if not created:
        return
    try:
        if [p.name for p in path.parent.iterdir()] == [LOCK_NAME]:
            path.unlink()
            for folder in created:
                folder.rmdir()
    except OSError:
        pass  # something else is there now: keep it


def inherited_fds() -> tuple[int, ...]:
    """The lock descriptor this process holds (or inherited), to pass on to its children."""
    fd = _lock_fd()
    return () if fd is None else (fd,)


def _lock_fd() -> int | None:
    text, path = os.environ.get(FD_VARIABLE, ""), os.environ.get(PATH_VARIABLE, "")
    if not (text.isdigit() and path):
        return None
    try:
        held, named = os.fstat(int(text)), os.stat(path)
    except OSError:
        return None
    return int(text) if (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino) else None


def _inherited(path: Path) -> bool:
    """True when an ancestor holds the lock of `path` (it named it in the environment)."""
    return os.environ.get(PATH_VARIABLE) == str(path)


def _acquire(fd: int, path: Path, mode: str) -> None:
    operation = (fcntl.LOCK_EX if mode == EXCLUSIVE else fcntl.LOCK_SH) | fcntl.LOCK_NB
    deadline = None
    while True:
        try:
            fcntl.flock(fd, operation)
            return
        except BlockingIOError:
            pass
        holder = _read_holder(path)
        if _holder_running(holder):
            raise DataDirBusy(f"data dir {path.parent} is in use: {_describe(holder)}; wait for it to finish")
        # The named holder is gone; its children still hold the lock while they die.
        deadline = deadline or time.monotonic() + ORPHAN_WAIT_SECONDS
        if time.monotonic() > deadline:
            raise DataDirBusy(
                f"data dir {path.parent} is still locked {ORPHAN_WAIT_SECONDS:.0f} s after its holder "
                f"({_describe(holder)}) ended: a process it started is still running"
            )
        time.sleep(0.2)


def _write_holder(fd: int) -> None:
    record = {
        "pid": os.getpid(),
        "command": redact(" ".join(["pwatch", *sys.argv[1:]])),
        "host": socket.gethostname(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    data = json.dumps(record).encode()
    # Shared holders take turns naming themselves; the record is advisory, the flock decides.
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _read_holder(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _holder_running(holder: dict) -> bool:
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return True  # unknown holder: never assume it is gone
    if holder.get("host") != socket.gethostname():
        return True  # another machine's process: cannot check, assume it runs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed holder its parent has not reaped yet still has a pid, but holds nothing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _describe(holder: dict) -> str:
    if not holder:
        return "held by an unknown process"
    command = " ".join(str(holder.get("command", "?")).split())[:120]
    return f"pid {holder.get('pid')} `{command}` on {holder.get('host')} since {holder.get('started')}"
