"""The deployment profile for real: Airflow's scheduler, API server, DAG processor and two Celery
workers on the local PostgreSQL (metadata and tracking) and Redis (broker) run the daily DAG for
one date of the fixture world, chemdir's crawl split in two shards; tasks run on both workers; the tracking DB matches the truth; every
process started is stopped again."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest

from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import World, WorldConfig
from precursor_watch.settings import load_settings
from precursor_watch.steps import settings_environment
from tests.e2e.test_daily_dag import check_against_truth

ROOT = Path(__file__).resolve().parents[2]
PG = "postgresql://postgres@127.0.0.1:5432/test"
DAY = dt.date(2026, 11, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # a loaded 2-core machine is slow
        return json.load(response)


@pytest.fixture
def databases():
    """Fresh PostgreSQL databases for Airflow's metadata and for tracking; dropped afterwards."""
    names = {"airflow": f"pw_af_{uuid.uuid4().hex[:8]}", "tracking": f"pw_tr_{uuid.uuid4().hex[:8]}"}
    with psycopg.connect(PG, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    yield names
    with psycopg.connect(PG, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.distributed
@pytest.mark.postgres
@pytest.mark.slow
def test_celery_cluster_runs_the_daily_dag_on_both_workers(tmp_path, databases, trained_model):
    config = WorldConfig(seed=9, start=DAY, days=30, scale=150, port=0, state_dir=tmp_path / "fixtures")
    api_port = free_port()
    queue = f"pwatch_{uuid.uuid4().hex[:6]}"
    procs: list[subprocess.Popen] = []
    with serve_in_background(config, DAY) as world_server:
        settings = load_settings(
            data_dir=str(tmp_path), environ={},
            database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{databases['tracking']}",
            seed="9", scale="150", world_start=DAY.isoformat(), fixture_port=str(world_server.config.port),
            auto_confirm="true", model_dir=str(trained_model), daily_schedule="", crawl_shards="chemdir=2",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PWATCH"))}
        env.update(settings_environment(settings))
        env.update({
            "PATH": os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")]),
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "precursor_watch.airflow_runner.worker_hostname",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{databases['airflow']}",
            "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@127.0.0.1:5432/{databases['airflow']}",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,  # isolates this test's tasks on the shared Redis
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        })
        logs = tmp_path / "logs"
        logs.mkdir()

        def start(name: str, *args: str, **extra: str) -> None:
            out = open(logs / f"{name}.log", "w")
            procs.append(subprocess.Popen(["airflow", *args], env={**env, **extra}, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True))

        try:
            subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True)
            start("api-server", "api-server", "--port", str(api_port), "--host", "127.0.0.1")
            start("scheduler", "scheduler")
            start("dag-processor", "dag-processor")
            for worker in ("worker-1", "worker-2"):
                start(worker, "celery", "worker", "--concurrency", "2", "--queues", queue,
                      "--celery-hostname", f"{worker}@%h", "--skip-serve-logs", PWATCH_WORKER_NAME=worker)
            base = f"http://127.0.0.1:{api_port}/api/v2"
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                try:
                    call(f"{base}/dags/pwatch_daily")
                    break
                except OSError:
                    for p in procs:
                        assert p.poll() is None, (logs / "api-server.log").read_text()[-2000:]
                    time.sleep(3)
            call(f"{base}/dags/pwatch_daily", "PATCH", {"is_paused": False})
            run = call(f"{base}/dags/pwatch_daily/dagRuns", "POST",
                       {"logical_date": f"{DAY.isoformat()}T00:00:00Z", "dag_run_id": f"cluster__{DAY}"})
            run_id = run["dag_run_id"]
            state = None
            while time.monotonic() < deadline + 360:
                try:
                    state = call(f"{base}/dags/pwatch_daily/dagRuns/{run_id}")["state"]
                except TimeoutError:
                    continue
                if state in ("success", "failed"):
                    break
                time.sleep(3)
            instances = call(f"{base}/dags/pwatch_daily/dagRuns/{run_id}/taskInstances")["task_instances"]
            summary = [(ti["task_id"], ti["map_index"], ti["state"], ti["hostname"]) for ti in instances]
            assert state == "success", summary
            assert {ti["hostname"] for ti in instances} == {"worker-1", "worker-2"}, summary
            crawls = sorted(ti["map_index"] for ti in instances if ti["task_id"] == "crawl")
            assert crawls == list(range(6)), summary  # chemdir in 2 shards + 4 platforms
            check_against_truth(settings.db_url, World(world_server.config), [DAY])
        finally:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
    leftovers = subprocess.run(["pgrep", "-f", queue], capture_output=True, text=True).stdout.strip()
    assert leftovers == "", leftovers
