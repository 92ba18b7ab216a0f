"""Saving and loading artifacts: the card, the hash, library versions, labels."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from model import cues
from model.artifact import (CARD_FIELDS, CARD_FILE, DEFAULT_MODEL_DIR, REFERENCE_COMMENTS,
                            IncompatibleArtifactError, atomic_write, load_model, read_card, verified_card)
from model.labels import CATEGORIES
from model.errors import ArtifactError


@pytest.fixture
def model_copy(trained_dir: Path, tmp_path: Path) -> Path:
    destination = tmp_path / "model"
    shutil.copytree(trained_dir, destination)
    return destination


def edit_card(directory: Path, change) -> None:
    card = json.loads((directory / CARD_FILE).read_text())
    change(card)
    (directory / CARD_FILE).write_text(json.dumps(card))


def test_card_has_every_field(card: dict) -> None:
    assert all(name in card for name in CARD_FIELDS)
    assert {"python", "scikit-learn", "numpy", "joblib", "datasets"} <= set(card["versions"])
    assert card["labels"]["category"] == ["substantive", "whataboutism", "abusive"]
    assert len(card["artifact"]["sha256"]) == 64
    assert card["training_data"][1]["path"] == "seeds/comments.jsonl"
    assert card["training_config"]["seed"] == 0


def test_the_shipped_model_was_trained_on_the_shipped_labelled_set() -> None:
    """A labelled set changed without retraining, or a card recording another file, fails here."""
    from model.artifact import sha256_of

    card = read_card(DEFAULT_MODEL_DIR)
    repository = Path(__file__).resolve().parents[1]
    assert [source["path"] for source in card["training_data"]] == ["seeds/articles.jsonl", "seeds/comments.jsonl"]
    for source in card["training_data"]:
        assert source["sha256"] == sha256_of(repository / source["path"]), source["path"]


def test_shipped_default_model_loads_and_works() -> None:
    moderator, card = load_model(DEFAULT_MODEL_DIR)
    assert moderator.version == card["model_version"]
    assert moderator.moderate_one("You are a moron.").category == "abusive"


def test_corrupt_artifact_is_refused_before_unpickling(model_copy: Path) -> None:
    with open(verified_card(model_copy)[1], "ab") as handle:
        handle.write(b"garbage")
    with pytest.raises(ArtifactError, match="does not match the card"):
        load_model(model_copy)


def test_missing_card(model_copy: Path) -> None:
    (model_copy / CARD_FILE).unlink()
    with pytest.raises(ArtifactError, match="no model card .* run `moderate train`"):
        load_model(model_copy)


def test_card_that_is_not_json(model_copy: Path) -> None:
    (model_copy / CARD_FILE).write_text("{nope")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        read_card(model_copy)


def test_card_missing_fields(model_copy: Path) -> None:
    edit_card(model_copy, lambda card: card.pop("metrics"))
    with pytest.raises(ArtifactError, match="lacks metrics"):
        load_model(model_copy)


@pytest.mark.parametrize("field, value, message", [
    ("labels", None, "labels must be an object, got NoneType"), ("versions", "x", "versions must be an object, got str"),
    ("artifact", None, "artifact must be an object"), ("model_version", ["x"], "model_version must be str, got list"),
    ("decision_policy", {"bogus": 1}, "decision_policy does not fit this code"),
])
def test_card_fields_of_the_wrong_type_are_named(model_copy: Path, field: str, value, message: str) -> None:
    edit_card(model_copy, lambda card: card.update({field: value}))
    with pytest.raises(ArtifactError, match=message):
        load_model(model_copy)


def test_library_version_mismatch_says_what_to_do(model_copy: Path) -> None:
    edit_card(model_copy, lambda card: card["versions"].update({"scikit-learn": "0.1.0"}))
    with pytest.raises(IncompatibleArtifactError,  # naming the model: MODERATE_MODEL_DIR may have chosen it
                       match=rf"{re.escape(str(model_copy / CARD_FILE))}: model trained with scikit-learn "
                             r"0\.1\.0, installed .*: run `moderate train`"):
        load_model(model_copy)


def test_lexicon_changed_since_training_says_which_and_what_to_do(model_copy: Path) -> None:
    edit_card(model_copy, lambda card: card["lexicons"].update({"insults.txt": "0" * 64}))
    with pytest.raises(IncompatibleArtifactError, match=rf"{re.escape(str(model_copy / CARD_FILE))}: model "
                                                        r"trained with other lexicons .*changed: insults\.txt.*moderate train"):
        load_model(model_copy)


def test_card_records_reference_scores_that_the_loaded_model_reproduces(card: dict) -> None:
    recorded = card["reference_scores"]
    assert [entry["text"] for entry in recorded] == [text for text, _ in REFERENCE_COMMENTS]
    assert all(abs(sum(entry["category"]) - 1) < 1e-9 and len(entry["stance"]) == 3 for entry in recorded)
    abusive = CATEGORIES.index("abusive")
    by_text = {entry["text"]: entry["category"] for entry in recorded}
    assert by_text["You are a moron. Go back to your cave, you filthy rat."][abusive] > 0.5


def test_feature_code_changed_since_training_is_refused(model_copy: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    load_model(model_copy)
    monkeypatch.setattr(cues, "SECOND_PERSON", frozenset())  # as if the code no longer counted "you"
    with pytest.raises(IncompatibleArtifactError,
                       match=rf"{re.escape(str(model_copy / CARD_FILE))}: model scores its "
                             r"reference comment '.*you.*' otherwise than when it was trained "
                             r"\(category probabilities differ by up to .*run `moderate train`"):
        load_model(model_copy)


def test_edited_reference_score_is_refused(model_copy: Path) -> None:
    edit_card(model_copy, lambda card: card["reference_scores"][3]["stance"].reverse())
    with pytest.raises(IncompatibleArtifactError, match=r"'You are a moron.*stance probabilities differ"):
        load_model(model_copy)


def test_card_without_reference_scores_still_loads(model_copy: Path) -> None:
    edit_card(model_copy, lambda card: card.pop("reference_scores"))
    assert load_model(model_copy)[0].moderate_one("You are a moron.").category == "abusive"


def test_label_mismatch(model_copy: Path) -> None:
    edit_card(model_copy, lambda card: card["labels"].update({"category": ["good", "bad"]}))
    with pytest.raises(ArtifactError, match="category labels are"):
        load_model(model_copy)


def test_missing_artifact_file(model_copy: Path) -> None:
    verified_card(model_copy)[1].unlink()
    with pytest.raises(ArtifactError, match="missing"):
        load_model(model_copy)


@pytest.mark.parametrize("change, message", [
    (lambda card: card["artifact"].update({"file": None}), r"artifact\.file must name a file inside .*got None"),
    (lambda card: card["artifact"].update({"file": 5}), r"artifact\.file must name a file inside .*got 5"),
    (lambda card: card["artifact"].update({"file": "../model.joblib"}), r"artifact\.file must name a file inside"),
    (lambda card: card["artifact"].update({"sha256": None}), r"artifact\.sha256 must be a hex digest"),
    (lambda card: card.update({"lexicons": "x"}), r"lexicons must be an object"),
    (lambda card: card.update({"reference_scores": "x"}), r"reference_scores must be a list"),
    (lambda card: card.update({"reference_scores": [{"text": "hi"}]}), r"reference_scores must be a list"),
    (lambda card: card.update({"reference_scores": [{"text": "hi", "category": [0.2, 0.3, 0.5],  # no article
                                                     "stance": [0.3, 0.3, 0.4]}]}), r"reference_scores must be a list"),
])
def test_card_entries_that_cannot_be_used_are_named_not_a_traceback(model_copy: Path, change, message: str) -> None:
    edit_card(model_copy, change)
    with pytest.raises(ArtifactError, match=rf"{CARD_FILE}: .*{message}.*moderate train"):
        load_model(model_copy)


@pytest.mark.parametrize("threshold", ["x", 1.5, True])
def test_a_threshold_set_wrong_in_the_card_is_named_to_be_corrected_not_retrained(model_copy: Path,
                                                                                   threshold) -> None:
    """An operator's typo in a threshold was answered "run `moderate train`", which does not mend it."""
    edit_card(model_copy, lambda card: card["decision_policy"].update({"reject_abusive": threshold}))
    with pytest.raises(ArtifactError, match=rf"{CARD_FILE}: decision_policy: policy threshold reject_abusive must be "
                                            r"a number in \[0, 1.01\], got .*; correct it in the card$"):
        load_model(model_copy)


def test_a_model_folder_that_is_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "model").write_text("not a folder")
    with pytest.raises(ArtifactError, match="is a file, not a model folder"):
        load_model(tmp_path / "model")


def test_an_artifact_this_user_cannot_read_is_an_artifact_error(model_copy: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import model.artifact

    def denied(path: Path) -> str:
        raise PermissionError(13, "Permission denied", str(path))

    artifact_name = read_card(model_copy)["artifact"]["file"]
    monkeypatch.setattr(model.artifact, "sha256_of", denied)
    with pytest.raises(ArtifactError, match=rf"{re.escape(artifact_name)}: cannot be read \(Permission denied\): check"):
        load_model(model_copy)


def test_files_written_atomically_get_the_umask_mode_not_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        atomic_write(tmp_path / "card.json", lambda path: Path(path).write_text("{}"))
    finally:
        os.umask(previous)
    assert (tmp_path / "card.json").stat().st_mode & 0o777 == 0o644  # a service running as another user can read it
    assert [p.name for p in tmp_path.iterdir()] == ["card.json"]
