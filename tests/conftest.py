"""Shared fixtures: one model trained for the whole session on the shipped labelled set."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from model.artifact import load_model
from training.config import TrainingConfig
from training.sources import load_seed_data
from training.train import LabelledData, train


@lru_cache(maxsize=1)
def _seed_data_once() -> LabelledData:
    return load_seed_data()


def seed_data() -> LabelledData:
    """The shipped labelled set, read once per test session (reading and validating it takes
    seconds), each call with its own copies of the records."""
    data = _seed_data_once()
    return LabelledData([dict(r) for r in data.records], [dict(s) for s in data.sources])


def small_seed_data(n_articles: int = 12, per_article: int = 80) -> LabelledData:
    """The labelled set's first ``per_article`` comments on each of its first ``n_articles``
    articles: for tests of what training does (writes, compares, reproduces, falls back to), which
    need not wait for a full model."""
    data = seed_data()
    articles = set(sorted({r["group"] for r in data.records})[:n_articles])
    taken: Counter = Counter()
    kept = []
    for record in data.records:
        if record["group"] in articles and taken[record["group"]] < per_article:
            taken[record["group"]] += 1
            kept.append(record)
    return LabelledData(kept, data.sources)


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained from seeds/ (no cross-validation, to keep the suite fast)."""
    directory = tmp_path_factory.mktemp("model")
    train(seed_data(), TrainingConfig(cv_folds=0), directory, force=True)
    return directory


@pytest.fixture(scope="session")
def moderator(trained_dir: Path):
    """The session model, loaded through the artifact loader."""
    return load_model(trained_dir)[0]


@pytest.fixture(scope="session")
def card(trained_dir: Path) -> dict:
    """The session model's card."""
    return load_model(trained_dir)[1]
