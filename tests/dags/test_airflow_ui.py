"""`make airflow` (= `pwatch airflow`): the standalone UI answers, lists both DAGs with docs, stops cleanly."""

from __future__ import annotations

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


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.mark.airflow
@pytest.mark.slow
def test_airflow_standalone_serves_health_and_both_dags(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PWATCH"))}
    env.update({"PWATCH_DATA_DIR": str(tmp_path), "PWATCH_EMBEDDED_WORLD": "false"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "precursor_watch", "airflow", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
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
        assert (tmp_path / "airflow" / "airflow.db").exists()  # metadata DB in the data dir, not the tracking DB
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    time.sleep(1)
    # Airflow renames its API server process "airflow api_server -- host:... port:N".
    leftover = subprocess.run(["pgrep", "-f", f"api_server.*port:{port}"], capture_output=True, text=True).stdout
    with pytest.raises(OSError):
        get_json(f"{base}/api/v2/monitor/health")
    assert leftover.strip() == ""
