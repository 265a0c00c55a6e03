"""A small real run (fixture world over loopback, real crawl, spaCy detector, WARC evidence) that
the console tests read and decide on; each test that writes gets its own copy of the data dir."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from precursor_watch import steps
from precursor_watch.fixtures.server import serve_in_background
from precursor_watch.fixtures.world import WorldConfig
from precursor_watch.settings import Settings, load_settings

START = dt.date(2026, 11, 1)
DATES = [START, START + dt.timedelta(days=1)]
PLATFORMS = "chemdir,tradehub,mercado"
SEED, SCALE = 11, 100
PASSWORDS = {"ana": "analyst-pass-1", "aud": "auditor-pass-1", "adm": "admin-pass-01", "off": "disabled-pass1"}
ROLES = {"ana": "analyst", "aud": "auditor", "adm": "admin", "off": "analyst"}


def settings_for(data: Path, model: Path, port: int = 0, **extra: str) -> Settings:
    return load_settings(data_dir=str(data), environ={}, seed=str(SEED), scale=str(SCALE), world_start=START.isoformat(),
                         fixture_port=str(port), platforms=PLATFORMS, auto_confirm="false", model_dir=str(model), **extra)


def pwatch(*args: str, data: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "precursor_watch", *args, "--data-dir", str(data)], input=stdin,
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PWATCH_LOG_LEVEL": "INFO"})


@pytest.fixture(scope="session")
def console_run(tmp_path_factory, trained_model) -> Path:
    """The data dir of a two-day run with flags awaiting review and four console users."""
    data = tmp_path_factory.mktemp("console-run")
    config = WorldConfig(seed=SEED, start=START, days=30, scale=SCALE, port=0, state_dir=data / "fixtures")
    with serve_in_background(config, DATES[0]) as server:
        settings = settings_for(data, trained_model, server.config.port)
        for day in DATES:
            result = steps.run_day(settings, day)
            assert result["failed"] == {}, result["failed"]
    for name, password in PASSWORDS.items():
        done = pwatch("users", "add", name, "--role", ROLES[name], data=data, stdin=password + "\n")
        assert done.returncode == 0, done.stderr
    assert pwatch("users", "disable", "off", data=data).returncode == 0
    return data


@dataclass
class RunCopy:
    data: Path
    settings: Settings


@pytest.fixture
def run_copy(console_run, tmp_path, trained_model) -> RunCopy:
    data = tmp_path / "data"
    shutil.copytree(console_run, data, ignore=shutil.ignore_patterns(".lock"))
    return RunCopy(data, settings_for(data, trained_model))
