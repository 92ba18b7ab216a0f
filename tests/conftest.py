"""Shared fixtures: one model trained for the whole session on the shipped labelled set."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest
from datasets import DatasetDict

from model.artifact import load_model
from training.dataset import load_labelled_set
from training.sources import load_seed_data
from training.train import LabelledData


@lru_cache(maxsize=1)
def shipped_dataset() -> DatasetDict:
    """The shipped labelled set as its DatasetDict, loaded once per test process (seconds each time)."""
    return load_labelled_set()


@lru_cache(maxsize=1)
def _seed_data_once() -> LabelledData:
    return load_seed_data(dataset=shipped_dataset())


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
import os, sys, threading, time
from pathlib import Path

parent = os.getppid()

def end_with_the_tests():  # a test run stopped by Ctrl-C leaves no training behind
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)

threading.Thread(target=end_with_the_tests, daemon=True).start()
from training.config import TrainingConfig
from training.sources import load_seed_data
from training.train import train
status = Path(sys.argv[2])

def end_as(word):  # whole or not at all: another worker may be reading it
    status.with_suffix(".tmp").write_text(word)
    status.with_suffix(".tmp").replace(status)

try:
    train(load_seed_data(), TrainingConfig(cv_folds=0), Path(sys.argv[1]), force=True)
except BaseException:
    end_as("failed")
    raise
end_as("trained")
"""
WAIT_FOR_TRAINING_SECONDS = 3600


@dataclass
class SessionModel:
    """The model trained for the test run; with xdist, one training shared by every worker."""

    directory: Path
    status: Path  # "trained" or "failed", written by the training as it ends
    log: Path
    pid: int
    process: subprocess.Popen | None  # None in the workers that did not start it

    def running(self) -> bool:
        """Whether the training process is still alive."""
        if self.process is not None:
            return self.process.poll() is None
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False


def needs_session_model(item: pytest.Item) -> bool:
    return "trained_dir" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need the session model run last (in their files' order), so that the others run
    while the model trains."""
    items.sort(key=needs_session_model)
    config.session_model_needed = any(map(needs_session_model, items))


def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test run that every xdist worker shares (the run's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def session_model_training(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Start training the session model from seeds/ (no cross-validation) in another process as
    the session starts, when a selected test needs it, unless another xdist worker already did."""
    if not getattr(request.config, "session_model_needed", True):
        yield None
        return
    folder = _run_folder(tmp_path_factory)
    started = folder / "session-model.pid"
    with open(folder / "session-model.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        model = SessionModel(folder / "session-model", folder / "session-model.status",
                             folder / "session-model-training.log", 0, None)
        if started.exists():
            model.pid = int(started.read_text())
        else:
            with open(model.log, "w") as log:
                model.process = subprocess.Popen(
                    [sys.executable, "-c", TRAIN_SESSION_MODEL, str(model.directory), str(model.status)],
                    stdout=log, stderr=subprocess.STDOUT,
                    env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
            model.pid = model.process.pid
            started.write_text(str(model.pid))
    yield model
    if model.process is not None:
        if os.environ.get("PYTEST_XDIST_WORKER") and not request.session.shouldstop:
            model.process.wait()  # another worker may still be waiting for it
        elif model.process.poll() is None:
            model.process.kill()
        model.process.wait()


@pytest.fixture(scope="session")
def trained_dir(session_model_training: SessionModel) -> Path:
    """The model trained from seeds/ for the session, once its training has finished."""
    model = session_model_training
    deadline = time.monotonic() + WAIT_FOR_TRAINING_SECONDS
    while not model.status.exists() and model.running() and time.monotonic() < deadline:
        time.sleep(0.5)
    if not model.status.exists() or model.status.read_text() != "trained":
        pytest.fail(f"training the session model failed:\n{model.log.read_text()[-3000:]}")
    return model.directory


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
    import service.serving
    real_load = service.serving.load_serving_model
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
        patch.setattr(service.serving, "load_serving_model", load_once)
        yield


@pytest.fixture(scope="session")
def moderator(trained_dir: Path):
    """The session model, loaded through the artifact loader."""
    return load_model(trained_dir)[0]


@pytest.fixture(scope="session")
def card(trained_dir: Path) -> dict:
    """The session model's card."""
    return load_model(trained_dir)[1]
