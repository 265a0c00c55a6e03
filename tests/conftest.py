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


# How `make test` spreads the suite over pytest-xdist workers (`-n 3`, scheduler below). A group
# of tests runs on one worker, so the session- and package-scoped worlds its tests share are built
# once: a test package is one group, except the long end-to-end runs and the ledger's, whose
# SQLite and PostgreSQL halves build separate worlds and so run as groups of their own, in
# parallel.
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


def schedule_group(nodeid: str) -> str:
    """The group of a test, from its node id alone (the xdist controller sees only ids)."""
    path, _, name = nodeid.partition("::")
    package = path.rsplit("/", 1)[0] + "/"
    if not package.startswith(SPLIT_BY_DATABASE):
        return package
    params = name.partition("[")[2]
    database = next((d for d in ("postgres", "sqlite") if d in params), "")
    return f"{path}[{database}]"


def _schedule_rank(item) -> int:
    path = item.nodeid.split("::")[0]
    ranks = [i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)]
    if ranks:
        return ranks[0]
    return len(LONGEST_FIRST) + (0 if item.get_closest_marker("slow") else 1)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_schedule_rank)


@pytest.hookimpl(optionalhook=True)  # only when pytest-xdist is loaded
def pytest_xdist_make_scheduler(config, log):
    """xdist's scope scheduler with our groups as the scopes (its `loadgroup` mode no longer
    groups under pytest 9, which ignores the node-id suffix it relies on)."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return schedule_group(nodeid)

    return GroupScheduling(config, log)
