"""Airflow test set-up: a throw-away AIRFLOW_HOME with its own metadata DB, set before airflow is imported."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"


def airflow_env(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }


@pytest.fixture(scope="session")
def airflow_home():
    if "airflow" in sys.modules:
        pytest.skip("airflow was imported before its environment was set")
    home = Path(tempfile.mkdtemp(prefix="pwatch-airflow-"))
    os.environ.update(airflow_env(home))
    from airflow.utils import db

    db.initdb()
    return home


@pytest.fixture(scope="session")
def dagbag(airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))
