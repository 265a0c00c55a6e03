"""One trained detector for the whole session (training takes seconds, not minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp.detector import Detector
from nlp.train import train
from pwatch.training_data import training_examples


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return train(training_examples(seed=0), tmp_path_factory.mktemp("detector") / "model", seed=0)


@pytest.fixture(scope="session")
def detector(model_dir) -> Detector:
    return Detector.load(model_dir)
