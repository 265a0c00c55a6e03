"""`pwatch run` killed with SIGKILL leaves nothing behind: an immediate rerun, with no cleanup,
exits 0 and ends with the statistics of an uninterrupted run. A second writer on the same data
dir is refused with one line naming the holder; readers work meanwhile and on a read-only copy.
The uninterrupted reference run is also the one the second writers and readers are tried against.

Real processes throughout: `pwatch` subprocesses, the fixture server, crawls, SQLite.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RUN_ARGS = ["run", "--days", "2", "--end", "2026-11-03", "--scale", "60", "--seed", "5"]


def _without_permission_override() -> None:
    """Pre-exec: drop CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the bounding set,
    so even root's child obeys the file mode bits after exec."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.10", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def environ(trained_model) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWATCH_")}
    env.update(
        PWATCH_MODEL_DIR=str(trained_model), PWATCH_FIXTURE_PORT=str(_free_port()), PWATCH_LOG_LEVEL="WARNING",
        PWATCH_PLATFORMS="chemdir,tradehub,mercado",
    )
    return env


def pwatch(env, data: Path, *args: str, timeout: float = 600, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "precursor_watch", *args, "--data-dir", str(data)],
                          env=env, capture_output=True, text=True, timeout=timeout, **options)


def stats(env, data: Path, **options) -> dict:
    out = pwatch(env, data, "stats", "--format", "json", **options)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process below `pid` (by /proc parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        try:
            cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found.append((child, cmdline))
        todo += children.get(child, [])
    return found


def _processes_using(data: Path) -> list[str]:
    """Command lines of live processes that name `data` or hold a file below it open."""
    hits = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rpartition(")")[2].split()[0] == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            fds = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:
            continue
        if str(data) in cmdline or any(target.startswith(str(data)) for target in fds):
            hits.append(f"{entry.name}: {cmdline}")
    return hits


def _kill_when(env, data: Path, args: list[str], ready) -> None:
    """Start `pwatch <args>`, SIGKILL it (only it) as soon as `ready(pid)` holds, reap it."""
    proc = subprocess.Popen([sys.executable, "-m", "precursor_watch", *args, "--data-dir", str(data)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not ready(proc.pid):
        assert proc.poll() is None, f"pwatch {' '.join(args)} ended (exit {proc.returncode}) before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def child_running(fragment: str):
    return lambda pid: any(fragment in cmd for _p, cmd in _descendants(pid))


def report_written(data: Path, day: str):
    return lambda _pid: (data / "reports" / day).exists()


@dataclass
class Reference:
    """The uninterrupted run every other run must equal, and what was seen while it ran: other
    writers on its data dir were refused, readers worked (one run serves both, to keep this cheap)."""

    data: Path
    stats: dict
    holder_pid: int
    refused: dict[str, subprocess.CompletedProcess]
    readers: dict[str, subprocess.CompletedProcess]


SECOND_WRITERS = {
    "run": ["run", "--days", "1", "--inline"], "detect": ["detect", "--date", "2026-11-02"],
    "crawl": ["crawl", "--site", "chemdir", "--date", "2026-11-02"], "db upgrade": ["db", "upgrade"],
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, environ) -> Reference:
    """`pwatch run` uninterrupted; while it holds the data dir, every other writer is tried once
    and every reader once. Refused writers that changed anything would make this run's statistics
    differ from the killed-and-rerun ones, which never had company."""
    root = tmp_path_factory.mktemp("uninterrupted")
    data, log = root / "data", root / "run.log"
    with open(log, "w") as output:
        holder = subprocess.Popen([sys.executable, "-m", "precursor_watch", *RUN_ARGS, "--inline", "--data-dir", str(data)],
                                  env=environ, stdout=output, stderr=subprocess.STDOUT)
    refused, readers = {}, {}
    try:
        deadline = time.monotonic() + 300
        while not child_running("precursor_watch crawl")(holder.pid):  # the database exists, the lock is held
            assert holder.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        for name, writer in SECOND_WRITERS.items():
            refused[name] = pwatch(environ, data, *writer, timeout=60)
        readers["stats"] = pwatch(environ, data, "stats", "--format", "json", timeout=60)
        readers["review list"] = pwatch(environ, data, "review", "list", timeout=60)
        holder_running = holder.poll() is None
    finally:
        holder.wait(timeout=600)
    assert holder.returncode == 0, log.read_text()
    assert holder_running, "the run ended before every second writer and reader was tried: nothing held the lock"
    return Reference(data, stats(environ, data), holder.pid, refused, readers)


@pytest.fixture(scope="module")
def uninterrupted(reference) -> dict:
    return reference.stats


@pytest.mark.parametrize(
    "mode, kill_point",
    [
        ("--inline", "fixture-start"),
        ("--inline", "mid-crawl"),
        ("--inline", "mid-report"),
        ("airflow", "mid-crawl"),
    ],
)
def test_sigkill_then_immediate_rerun_equals_an_uninterrupted_run(tmp_path, environ, uninterrupted, mode, kill_point):
    data = tmp_path / "data"
    args = RUN_ARGS + ([mode] if mode == "--inline" else [])
    ready = {
        "fixture-start": child_running("precursor_watch.fixtures.server"),
        "mid-crawl": child_running("precursor_watch crawl"),
        "mid-report": report_written(data, "2026-11-02"),
    }[kill_point]
    _kill_when(environ, data, args, ready)
    rerun = pwatch(environ, data, *args)  # no cleanup in between
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "Traceback" not in rerun.stderr
    assert stats(environ, data) == uninterrupted
    time.sleep(1)  # children signalled by the kernel at the rerun's own end are gone by now
    assert _processes_using(data) == []


def test_a_second_writer_is_refused_while_readers_work_also_on_a_read_only_copy(tmp_path, environ, reference):
    for name, refused in reference.refused.items():
        assert refused.returncode != 0, name
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1, refused.stderr
        assert f"pid {reference.holder_pid}" in lines[0] and "pwatch run" in lines[0] and socket.gethostname() in lines[0]
    for name, reading in reference.readers.items():
        assert reading.returncode == 0, (name, reading.stderr)
    uninterrupted, data = reference.stats, reference.data

    # chmod a-w binds root only without its capabilities to override file permissions.
    unprivileged = {"preexec_fn": _without_permission_override} if os.geteuid() == 0 else {}
    copy = tmp_path / "read-only-copy"
    shutil.copytree(data, copy)
    for path in sorted(copy.rglob("*"), reverse=True) + [copy]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        before = sorted(p.name for p in copy.iterdir())
        assert stats(environ, copy, **unprivileged) == uninterrupted
        for reader in (["review", "list", "--status", "reported"], ["notices", "overdue", "--date", "2026-11-03"]):
            out = pwatch(environ, copy, *reader, timeout=60, **unprivileged)
            assert out.returncode == 0, out.stderr
        assert sorted(p.name for p in copy.iterdir()) == before  # no -wal, -shm or lock file appeared
        refused = pwatch(environ, copy, "detect", "--date", "2026-11-02", timeout=60, **unprivileged)
        assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    finally:
        for path in [copy, *copy.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
