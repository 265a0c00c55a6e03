"""`make airflow` (= `pwatch airflow`): the UI answers, lists both DAGs with docs, listens on
loopback only, and goes down whole even when it is SIGKILLed."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (by /proc parent links): the components run in process groups
    of their own, so the tree, not the group, is what `pwatch airflow` started."""
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
        found.append(child)
        todo += children.get(child, [])
    return found


def _listen_table() -> dict[int, tuple[str, int]]:
    """Socket inode → (address, port) of every TCP socket in LISTEN state (/proc/net/tcp, tcp6)."""
    table = {}
    for name, width in (("tcp", 4), ("tcp6", 16)):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            hex_host, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_host)
            # the kernel prints each 32-bit word in host (little-endian) order
            host = b"".join(raw[i:i + 4][::-1] for i in range(0, width, 4))
            table[int(fields[9])] = (str(ipaddress.ip_address(host)), int(hex_port, 16))
    return table


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


def listening_sockets(pids: list[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every listening TCP socket the processes `pids` hold open."""
    table = _listen_table()
    found = []
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and int(target[8:-1]) in table:
                found.append((pid, *table[int(target[8:-1])]))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def descendants_left(pids: list[int]) -> list[int]:
    return [pid for pid in pids if alive(pid)]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.mark.airflow
@pytest.mark.slow
def test_airflow_serves_both_dags_on_loopback_only_and_its_components_die_with_it(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PWATCH"))}
    env.update({"PWATCH_DATA_DIR": str(tmp_path), "PWATCH_EMBEDDED_WORLD": "false",
                "PWATCH_CONSOLE_URL": "http://127.0.0.1:8471"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "precursor_watch", "airflow", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    children: list[int] = []
    try:
        deadline = time.monotonic() + 150
        health = None
        while time.monotonic() < deadline:
            try:
                health = get_json(f"{base}/api/v2/monitor/health")
                if health["scheduler"]["status"] == "healthy":
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            time.sleep(2)
        assert health and health["metadatabase"]["status"] == "healthy"
        # The DAG processor may need a moment after start to serialize both files.
        while time.monotonic() < deadline:
            dags = {d["dag_id"] for d in get_json(f"{base}/api/v2/dags")["dags"]}
            if {"pwatch_daily", "pwatch_audit"} <= dags:
                break
            time.sleep(2)
        assert {"pwatch_daily", "pwatch_audit"} <= dags
        for dag_id in ("pwatch_daily", "pwatch_audit"):
            details = get_json(f"{base}/api/v2/dags/{dag_id}/details")
            assert "Precursor Watch" in details["doc_md"]
            assert "precursor-watch" in {t["name"] for t in details["tags"]}
        # the UI's navigation gets the review console's link from the plugin
        views = [v for p in get_json(f"{base}/api/v2/plugins")["plugins"] for v in p["external_views"]]
        assert {"name": "Review console", "href": "http://127.0.0.1:8471/queue"}.items() <= views[0].items(), views
        assert (tmp_path / "airflow" / "airflow.db").exists()  # metadata DB in the data dir, not the tracking DB
        listening = listening_sockets([proc.pid, *descendants(proc.pid)])
        assert ("127.0.0.1", port) in {(host, p) for _pid, host, p in listening}, listening
        exposed = [s for s in listening if not is_loopback(s[1])]
        assert not exposed, f"listening beyond loopback (pid, address, port): {exposed}"
        # SIGKILL of `pwatch airflow` itself (no handler runs): every component it started still
        # goes down with it (parent-death signal), and with them what they started.
        children += descendants(proc.pid)
        assert children
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and any(alive(pid) for pid in children):
            time.sleep(1)
        survivors = [pid for pid in children if alive(pid)]
        assert not survivors, f"still running after SIGKILL of pwatch airflow: {survivors}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
        for pid in descendants_left(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    # Airflow renames its API server process "airflow api_server -- host:... port:N".
    leftover = subprocess.run(["pgrep", "-f", f"api_server.*port:{port}"], capture_output=True, text=True).stdout
    with pytest.raises(OSError):
        get_json(f"{base}/api/v2/monitor/health")
    assert leftover.strip() == ""
