"""The Airflow plugin that links the Airflow UI to the review console, loaded by real Airflow
(`airflow plugins`, in the environment `pwatch airflow` gives its components)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from precursor_watch.airflow_runner import airflow_environment
from precursor_watch.settings import load_settings


def _plugins(tmp_path, **env: str) -> list[dict]:
    settings = load_settings(data_dir=str(tmp_path), environ=env)
    environ = airflow_environment(settings)  # what `pwatch airflow` gives its components (settings included)
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    done = subprocess.run([airflow, "plugins", "--output", "json"], env=environ, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout[done.stdout.index("["):])


@pytest.mark.airflow
def test_the_plugin_adds_a_navigation_entry_to_the_configured_console(tmp_path):
    plugins = {p["name"]: p for p in _plugins(tmp_path, PWATCH_CONSOLE_URL="http://127.0.0.1:9123/")}
    plugin = plugins["pwatch_console"]
    assert plugin["source"].endswith("pwatch_console.py")
    assert plugin["external_views"] == [{"name": "Review console", "href": "http://127.0.0.1:9123/queue",
                                         "destination": "nav", "category": "Precursor Watch"}]


@pytest.mark.airflow
def test_no_console_url_no_entry(tmp_path):
    plugins = {p["name"]: p for p in _plugins(tmp_path)}
    assert plugins["pwatch_console"]["external_views"] == []
