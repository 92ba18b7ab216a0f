"""Shared fixtures: one model trained for the whole session on the shipped labelled set."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from model.artifact import load_model
from training.sources import load_seed_data
from training.train import LabelledData


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


TRAIN_SESSION_MODEL = """
import sys
from pathlib import Path
from training.config import TrainingConfig
from training.sources import load_seed_data
from training.train import train
train(load_seed_data(), TrainingConfig(cv_folds=0), Path(sys.argv[1]), force=True)
"""


def needs_session_model(item: pytest.Item) -> bool:
    return "trained_dir" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need the session model run last (in their files' order), so that the others run
    on one core while the model trains on the other."""
    items.sort(key=needs_session_model)
    config.session_model_needed = any(map(needs_session_model, items))


@pytest.fixture(scope="session", autouse=True)
def session_model_training(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Start training the session model from seeds/ (no cross-validation) in another process as
    the session starts, when a selected test needs it; yield its folder and process."""
    if not getattr(request.config, "session_model_needed", True):
        yield None
        return
    directory = tmp_path_factory.mktemp("model")
    with open(directory.parent / "session-model-training.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-c", TRAIN_SESSION_MODEL, str(directory)],
                                   stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
        yield directory, process
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.fixture(scope="session")
def trained_dir(session_model_training) -> Path:
    """The model trained from seeds/ for the session, once its training has finished."""
    directory, process = session_model_training
    if process.wait() != 0:
        log = directory.parent / "session-model-training.log"
        pytest.fail(f"training the session model failed:\n{log.read_text()[-3000:]}")
    return directory


def _folder_state(directory: Path) -> tuple:
    """Name, size and modification time of each file in ``directory`` (they change when an artifact
    is rewritten)."""
    files = [path for path in directory.iterdir() if path.is_file()]
    return tuple(sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files))


@pytest.fixture(scope="session")
def session_model_served_once(trained_dir: Path):
    """Apps created on the session model load it once for the session instead of once per test (a
    second or so each): the first load is real, and so is any load after its files changed or of any
    other folder."""
    import service.app
    real_load = service.app.load_serving_model
    loaded: dict[tuple, tuple] = {}

    def load_once(model_dir: Path, data_dir: Path):
        if Path(model_dir).resolve() != trained_dir.resolve():
            return real_load(model_dir, data_dir)
        state = _folder_state(trained_dir)
        if state not in loaded:
            loaded.clear()
            loaded[state] = real_load(model_dir, data_dir)
        moderator, card = loaded[state]
        return moderator, dict(card)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service.app, "load_serving_model", load_once)
        yield


@pytest.fixture(scope="session")
def moderator(trained_dir: Path):
    """The session model, loaded through the artifact loader."""
    return load_model(trained_dir)[0]


@pytest.fixture(scope="session")
def card(trained_dir: Path) -> dict:
    """The session model's card."""
    return load_model(trained_dir)[1]
