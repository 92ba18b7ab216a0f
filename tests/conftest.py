"""Shared fixtures: one model trained for the whole session on the shipped labelled set."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.artifact import load_model
from training.config import TrainingConfig
from training.sources import load_seed_data
from training.train import train


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained from seeds/ (no cross-validation, to keep the suite fast)."""
    directory = tmp_path_factory.mktemp("model")
    train(load_seed_data(), TrainingConfig(cv_folds=0), directory, force=True)
    return directory


@pytest.fixture(scope="session")
def moderator(trained_dir: Path):
    """The session model, loaded through the artifact loader."""
    return load_model(trained_dir)[0]


@pytest.fixture(scope="session")
def card(trained_dir: Path) -> dict:
    """The session model's card."""
    return load_model(trained_dir)[1]
