"""Child processes that never outlive the command that started them.

Every child gets its own process group (so the parent can stop it together with whatever it
started in turn) and, on Linux, a parent-death signal (`PR_SET_PDEATHSIG`): even when the parent
is SIGKILLed and cannot clean up, the kernel signals the child. The data-dir lock's descriptor is
passed down as well (`pwatch.datalock`), so the lock stays held until the last child is gone and
a rerun never meets a half-dead predecessor on the same port or database.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: process groups only
        return None


# Resolved once in the parent: the pre-exec hook then only makes one foreign call, nothing that
# could need a lock another thread held at fork time.
_PRCTL = _load_prctl()


def die_with_parent_hook(death_signal: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive `death_signal` when this process dies."""
    if _PRCTL is None:
        return None
    parent = os.getpid()
    prctl = _PRCTL

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl: nobody would signal us
            os.kill(os.getpid(), death_signal)

    return hook


def child_options(death_signal: int = signal.SIGTERM) -> dict[str, Any]:
    """`subprocess.Popen` keywords for a child that dies with this process: its own process group,
    the parent-death signal, and the data-dir lock's descriptor if this process holds one."""
    from precursor_watch.datalock import inherited_fds

    options: dict[str, Any] = {"start_new_session": True, "pass_fds": inherited_fds()}
    hook = die_with_parent_hook(death_signal)
    if hook is not None:
        options["preexec_fn"] = hook
    return options


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL whatever is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:  # the group id was reused by someone else's process
            return
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    _kill_leftover_group(proc.pid)


def _kill_leftover_group(pgid: int) -> None:
    """The leader exited on SIGTERM; members it did not stop (e.g. forked workers) go now."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
