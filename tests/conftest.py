"""Fixtures shared across test packages."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory):
    """One detector trained per test session (seconds), used by the pipeline tests."""
    from precursor_watch.settings import load_settings
    from precursor_watch.training_data import ensure_model

    data_dir = tmp_path_factory.mktemp("model-data")
    settings = load_settings(data_dir=str(data_dir), environ={})
    return ensure_model(settings)


# How `make test` spreads the suite over pytest-xdist workers (`--dist loadgroup`). A group runs on
# one worker, so the session- and package-scoped worlds its tests share are built once: a test
# package is one group, except the long end-to-end replays, whose SQLite and PostgreSQL halves
# build separate worlds and so run as groups of their own, in parallel.
SPLIT_BY_DATABASE = ("tests/e2e/", "tests/ledger/")
# Groups go to the workers in collection order; the longest start first so none forms the tail.
LONGEST_FIRST = (
    "tests/e2e/test_search_replay.py",
    "tests/e2e/test_hostile_replay.py",
    "tests/e2e/test_daily_dag.py",
    "tests/e2e/test_process_safety.py",
    "tests/distributed/",
    "tests/ledger/",
)


def _database_param(item) -> str:
    callspec = getattr(item, "callspec", None)
    values = callspec.params.values() if callspec else ()
    return next((v for v in values if v in ("sqlite", "postgres")), "")


def _schedule_group(item) -> str:
    path = item.nodeid.split("::")[0]
    package = path.rsplit("/", 1)[0] + "/"
    if package.startswith(SPLIT_BY_DATABASE):
        return f"{path}[{_database_param(item)}]"
    return package


def _schedule_rank(item) -> int:
    path = item.nodeid.split("::")[0]
    ranks = [i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)]
    if ranks:
        return ranks[0]
    return len(LONGEST_FIRST) + (0 if item.get_closest_marker("slow") else 1)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    if config.pluginmanager.hasplugin("xdist"):  # not under `-p no:xdist`
        for item in items:
            item.add_marker(pytest.mark.xdist_group(_schedule_group(item)))
    items.sort(key=_schedule_rank)
