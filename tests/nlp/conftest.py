"""One trained detector for the whole session (training takes seconds, not minutes).

`trained_model` (tests/conftest.py) is `ensure_model` on a fresh data dir: the same examples and
seed as `pwatch nlp train`, shared with the pipeline tests so CI trains once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from precursor_watch.nlp.detector import Detector


@pytest.fixture(scope="session")
def model_dir(trained_model) -> Path:
    return Path(trained_model)


@pytest.fixture(scope="session")
def detector(model_dir) -> Detector:
    return Detector.load(model_dir)
