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
