"""`docker/` is checked statically (no Docker engine here): compose validates, the profile is complete."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose missing: `make test` installs it (tests/ensure_system_packages.sh)")
    out = subprocess.run(
        ["docker-compose", "-f", str(DOCKER / "docker-compose.yml"), "config"],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def test_compose_has_the_whole_deployment_profile(compose):
    services = compose["services"]
    expected = {
        "postgres", "redis", "airflow-init", "fixtures", "airflow-apiserver", "airflow-scheduler",
        "airflow-dag-processor", "airflow-triggerer", "airflow-worker-1", "airflow-worker-2",
    }
    assert expected <= set(services)
    workers = [name for name, svc in services.items() if "celery worker" in str(svc.get("command", ""))]
    assert len(workers) == 2
    for name, svc in services.items():
        if name != "airflow-init":
            assert "healthcheck" in svc, f"{name} has no healthcheck"
        if name.startswith("airflow-"):
            env = svc["environment"]
            assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
            assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
            assert env["PWATCH_DATABASE_URL"].startswith("postgresql+psycopg://")
            assert "airflow" not in env["PWATCH_DATABASE_URL"].rsplit("/", 1)[1], "tracking DB must not be Airflow's"
            assert any(":/var/lib/pwatch" in str(v) for v in svc.get("volumes", [])), f"{name} lacks the data volume"


def test_dockerfile_uses_the_locked_airflow_and_copies_what_exists():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    base = re.search(r"^FROM apache/airflow:(\S+)-python3\.11$", dockerfile, re.M)
    lock = (ROOT / "requirements.lock").read_text()
    locked = re.search(r"^apache-airflow==(\S+)$", lock, re.M).group(1)
    assert base and base.group(1) == locked
    for source in re.findall(r"^COPY (?:--chown=\S+ )?(.+) \S+$", dockerfile, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"
