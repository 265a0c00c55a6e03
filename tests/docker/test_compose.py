"""`docker/` is checked statically (no Docker engine here): compose validates, the profile is complete."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


SECRETS = {
    "AIRFLOW_JWT_SECRET": "jwt-secret-for-the-test",
    "AIRFLOW_API_SECRET": "api-secret-for-the-test",
    "AIRFLOW_DB_PASSWORD": "airflow-db-pw-for-the-test",
    "PWATCH_DB_PASSWORD": "pwatch-db-pw-for-the-test",
}


def compose_config(secrets: dict[str, str]) -> subprocess.CompletedProcess:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose missing: `make test` installs it (tests/ensure_system_packages.sh)")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS and k != "AIRFLOW_API_BIND"}
    return subprocess.run(
        ["docker-compose", "-f", str(DOCKER / "docker-compose.yml"), "config"],
        capture_output=True, text=True, env={**env, **secrets}, cwd=DOCKER.parent,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    out = compose_config(SECRETS)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_each_secret(missing):
    out = compose_config({k: v for k, v in SECRETS.items() if k != missing})
    assert out.returncode != 0
    assert missing in out.stderr


def test_no_secret_or_password_is_written_in_the_compose_file(compose):
    text = (DOCKER / "docker-compose.yml").read_text()
    assert "change-me" not in text
    assert not re.search(r"://\w+:\w+@", text), "a password written into a URL"
    assert "POSTGRES_PASSWORD: ${" in text
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == SECRETS["AIRFLOW_JWT_SECRET"]
    assert f":{SECRETS['PWATCH_DB_PASSWORD']}@" in env["PWATCH_DATABASE_URL"]
    assert f":{SECRETS['AIRFLOW_DB_PASSWORD']}@" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_the_api_is_published_on_loopback_only(compose):
    published = [p for svc in compose["services"].values() for p in svc.get("ports", [])]
    assert published, "the API server publishes its port"
    for port in published:
        host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).rsplit(":", 2)[0]
        assert host_ip == "127.0.0.1", port


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
