"""Writing a model folder: the card goes in last, so a write that stops anywhere leaves a folder that
loads as the model it held before (or as the new one), never a mix."""

from __future__ import annotations

import copy
import errno
import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

from model import artifact
from model.artifact import (
    CARD_FILE,
    folder_locked,
    load_model,
    read_card,
    save_model,
    verified_card,
)
from model.moderation import Moderator


@pytest.fixture(scope="module")
def trained(trained_dir: Path) -> tuple[Moderator, dict]:
    return load_model(trained_dir)


@pytest.fixture
def model_folder(trained_dir: Path, tmp_path: Path) -> Path:
    destination = tmp_path / "model"
    shutil.copytree(trained_dir, destination)
    return destination


def save(moderator: Moderator, card: dict, directory: Path, version: str, reports: dict | None = None) -> dict:
    """Save ``moderator`` under another version into ``directory``, as training does; its artifact's
    bytes (and so its name) differ from the folder's, as a newly trained model's do."""
    classifier = copy.copy(moderator.classifier)
    classifier.saved_as = version  # kept in the pickle: another sha256
    return save_model(Moderator(classifier, moderator.policy, version), directory, training_config=card["training_config"],
                      training_data=card["training_data"], metrics=card["metrics"], reports=reports)


def files_in(directory: Path) -> set[str]:
    return {path.name for path in directory.iterdir()}


def in_a_child_that_dies(action) -> None:
    """Run ``action`` in a forked process that ends abruptly (as kill -9 would) where ``action`` says."""
    pid = os.fork()
    if pid == 0:
        try:
            signal.alarm(120)  # a child stuck on a lock held at fork time dies, and the test fails, not hangs
            action()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def test_a_new_model_replaces_the_old_and_leaves_no_other_artifact(trained, model_folder: Path) -> None:
    moderator, card = trained
    old_artifact = verified_card(model_folder)[1]
    (model_folder / "retrained-from.json").write_text("{}")  # a file of the operator's, not the model's
    written = save(moderator, card, model_folder, "v-new", {"notes.txt": lambda path: Path(path).write_text("n")})
    assert written["artifact"]["file"] == f"model-{written['artifact']['sha256'][:12]}.joblib"
    assert load_model(model_folder)[0].version == "v-new"
    joblibs = {name for name in files_in(model_folder) if name.endswith(".joblib")}
    assert old_artifact.name != written["artifact"]["file"] and not old_artifact.exists()
    assert joblibs == {written["artifact"]["file"]}
    assert (model_folder / "notes.txt").read_text() == "n" and (model_folder / "retrained-from.json").exists()
    assert not any(name.startswith(".") for name in files_in(model_folder))


def test_a_full_disk_mid_write_keeps_the_old_model(trained, model_folder: Path) -> None:
    moderator, card = trained
    before = files_in(model_folder)

    def disk_full(path: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", path)

    with pytest.raises(OSError, match="No space left"):
        save(moderator, card, model_folder, "v-new", {"report.png": disk_full})
    assert load_model(model_folder)[0].version == card["model_version"]
    assert files_in(model_folder) == before  # nothing staged is left behind


def test_killed_before_the_card_moves_the_old_model_still_loads(trained, model_folder: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    moderator, card = trained
    renamed = os.replace

    def die_on_the_card(source, destination) -> None:
        if Path(destination).name == CARD_FILE:
            os._exit(9)
        renamed(source, destination)

    monkeypatch.setattr(artifact.os, "replace", die_on_the_card)
    in_a_child_that_dies(lambda: save(moderator, card, model_folder, "v-killed"))
    monkeypatch.undo()
    assert len([name for name in files_in(model_folder) if name.endswith(".joblib")]) == 2  # the new one came in
    assert any(name.startswith(artifact.STAGED_PREFIX) for name in files_in(model_folder))  # the card did not
    assert load_model(model_folder)[0].version == card["model_version"]
    save(moderator, card, model_folder, "v-next")  # the next write clears what the killed one left
    assert [name for name in files_in(model_folder) if name.endswith(".joblib")] == [
        read_card(model_folder)["artifact"]["file"]]
    assert load_model(model_folder)[0].version == "v-next"


def test_killed_while_staging_leaves_the_old_model(trained, model_folder: Path) -> None:
    moderator, card = trained
    in_a_child_that_dies(lambda: save(moderator, card, model_folder, "v-killed",
                                      {"metrics.json": lambda path: os._exit(9)}))
    assert any(name.startswith(artifact.STAGED_PREFIX) for name in files_in(model_folder))
    assert load_model(model_folder)[0].version == card["model_version"]
    save(moderator, card, model_folder, "v-next")
    assert not any(name.startswith(artifact.STAGED_PREFIX) for name in files_in(model_folder))


def test_a_read_waits_while_a_model_is_written(model_folder: Path) -> None:
    """A reader takes the folder's shared lock, so it cannot read a card whose artifact a write is replacing."""
    result: list[str] = []
    with folder_locked(model_folder, exclusive=True):
        reader = threading.Thread(target=lambda: result.append(verified_card(model_folder)[0]["model_version"]))
        reader.start()
        reader.join(timeout=1.0)
        assert reader.is_alive() and not result  # hashing the artifact takes ~30 ms when not held back
    reader.join(timeout=30)
    assert result == [read_card(model_folder)["model_version"]]
