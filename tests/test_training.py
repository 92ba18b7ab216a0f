"""Training: quality floor, identity and criticism checks, calibration, reproducibility, promotion, fallback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import seed_data, small_seed_data
from model.artifact import CARD_FILE
from model.errors import ConfigError
from model.labels import CATEGORIES, STANCES
from service import models
from training.config import TrainingConfig, resolve_config
from training import sources
from training import train as training_train
from training.probes import criticism_sentences, identity_sentences
from training.report import format_comparison
from training.train import METRICS_FILE, LabelledData, compare_with_current, train

MACRO_F1_FLOOR = 0.900  # a little under what the default configuration reaches (0.903, see README)
BENCHMARK_PROBES = Path(__file__).resolve().parents[1] / "benchmarks" / "probes"  # quality.py's probe comments
EVALUATION = Path(__file__).resolve().parents[1] / "benchmarks" / "evaluation"  # quality.py reads it
# Over what the shipped model reaches (2/224 since the twenty-sixth round, 1/224 after the twenty-fifth;
# the same data with another split and swap draw, seed 1: 5/224; 744e8cec: 11; c30210cb, whose sentence
# scorer read every n-gram: 21; fa48abb1: 18; 607e29ac: 25). Before training broke vocabulary
# ties by the gram and fitted the heads to 1e-4, the session model could read several more (30 against
# 23 for bb6624e1), as the check's sentences sit near the boundary; now it reads what the shipped model reads.
CRITICISM_ABUSIVE_CEILING = 0.03


def metrics_of(directory: Path) -> dict:
    return json.loads((directory / METRICS_FILE).read_text())


def holding_out(articles: set[str]):
    """A stand-in for ``split_grouped`` that holds out exactly ``articles``."""
    def split(groups, **_):
        test = [i for i, group in enumerate(groups) if group in articles]
        return [i for i, group in enumerate(groups) if group not in articles], test
    return split


def test_held_out_macro_f1_is_above_the_floor(trained_dir: Path) -> None:
    assert metrics_of(trained_dir)["held_out"]["category"]["macro_f1"] >= MACRO_F1_FLOOR


def test_identity_sentences_are_rarely_scored_abusive(trained_dir: Path) -> None:
    identity = metrics_of(trained_dir)["identity_check"]
    assert identity["n_sentences"] >= 100
    assert identity["share_scored_abusive"] <= 0.02, identity["flagged_examples"]


def test_civil_criticism_of_authors_and_outlets_is_rarely_scored_abusive(trained_dir: Path) -> None:
    criticism = metrics_of(trained_dir)["criticism_check"]
    assert criticism["n_sentences"] >= 200
    assert criticism["share_scored_abusive"] <= CRITICISM_ABUSIVE_CEILING, criticism["flagged_examples"]


def test_scores_are_calibrated(trained_dir: Path) -> None:
    assert metrics_of(trained_dir)["held_out"]["category"]["calibration"]["expected_calibration_error"] <= 0.1


def test_report_files_are_written(trained_dir: Path) -> None:
    assert (trained_dir / "report.png").stat().st_size > 1000
    report = metrics_of(trained_dir)["held_out"]["category"]
    assert {"precision", "recall", "f1", "roc_auc"} <= set(report["per_class"]["abusive"])
    assert len(report["confusion_matrix"]["rows_true_columns_predicted"]) == 3
    swapped = metrics_of(trained_dir)["data"]["insults_swapped"]
    assert swapped["comments"] > 500 and swapped["words_taught"] > 100, swapped


SMALL_TRAINING = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from conftest import small_seed_data
from training.config import TrainingConfig
from training.train import train
train(small_seed_data(8), TrainingConfig(cv_folds=0), Path(sys.argv[1]), force=True)
"""


def test_same_data_and_seed_give_identical_metrics_in_another_process(tmp_path: Path) -> None:
    """The second run is another process with other string hashing (set and dict orders differ)."""
    train(small_seed_data(8), TrainingConfig(cv_folds=0), tmp_path / "first", force=True)
    subprocess.run([sys.executable, "-c", SMALL_TRAINING, str(tmp_path / "second"), str(Path(__file__).parent)],
                   check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert (tmp_path / "first" / METRICS_FILE).read_bytes() == (tmp_path / "second" / METRICS_FILE).read_bytes()
    assert metrics_of(tmp_path / "first")["held_out"]["category"]["macro_f1"] > 0.5


def test_worse_model_is_not_promoted_without_force(trained_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    current = tmp_path / "current"
    shutil.copytree(trained_dir, current)
    its_held_out = set(metrics_of(trained_dir)["data"]["test_articles"])
    data = seed_data()
    others = sorted({r["group"] for r in data.records} - its_held_out)[:6]
    # The weak model trains on six articles, not all of them (two full trainings took minutes), and
    # is held out on the current model's held-out articles, so that the two can be compared.
    kept = its_held_out | set(others)
    subset = LabelledData([r for r in data.records if r["group"] in kept], data.sources)
    monkeypatch.setattr(training_train, "split_grouped", holding_out(its_held_out))
    weak = TrainingConfig(cv_folds=0, C_category=0.0005, dense_weight=0.0)
    outcome = train(subset, weak, current)
    assert outcome.comparison["comparable"] and outcome.comparison["n_compared"] == len(
        [r for r in data.records if r["group"] in its_held_out])
    assert not outcome.promoted
    assert outcome.comparison["new_macro_f1"] < outcome.comparison["current_macro_f1"]
    assert outcome.out_dir == Path(f"{current}.candidate")
    assert (current / CARD_FILE).read_bytes() == (trained_dir / CARD_FILE).read_bytes()
    forced = train(subset, weak, current, force=True)
    assert forced.promoted and forced.out_dir == current


def test_comparison_uses_only_comments_neither_model_trained_on(trained_dir: Path, moderator) -> None:
    its_held_out = set(metrics_of(trained_dir)["data"]["test_articles"])
    records = seed_data().records
    unseen = [r for r in records if r["group"] in its_held_out][:40]
    seen = [r for r in records if r["group"] not in its_held_out][:60]
    comparison = compare_with_current(trained_dir, seen + unseen, moderator)
    assert comparison["comparable"] and (comparison["n_compared"], comparison["n_held_out"]) == (40, 100)
    assert comparison["current_macro_f1"] == comparison["new_macro_f1"]  # the same model on the same 40


def test_model_that_cannot_be_compared_fairly_is_not_promoted(trained_dir: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    current = tmp_path / "current"
    shutil.copytree(trained_dir, current)
    its_held_out = set(metrics_of(trained_dir)["data"]["test_articles"])
    # A split holding out only articles the current model trained on (as another seed can do).
    data = small_seed_data()
    trained_on = set(sorted({r["group"] for r in data.records} - its_held_out)[:6])
    monkeypatch.setattr(training_train, "split_grouped", holding_out(trained_on))
    outcome = train(data, TrainingConfig(cv_folds=0), current)
    assert not outcome.comparison["comparable"] and outcome.comparison["n_compared"] == 0
    assert not outcome.promoted and outcome.out_dir == Path(f"{current}.candidate")
    assert "cannot be compared fairly" in format_comparison(outcome.comparison)
    assert train(small_seed_data(), TrainingConfig(cv_folds=0), current, force=True).promoted


def test_a_comparison_without_stance_labels_shows_no_stance_score_not_zero() -> None:
    comparison = {"comparable": True, "current_version": "v1", "n_compared": 9, "n_held_out": 9,
                  "current_macro_f1": 0.8, "new_macro_f1": 0.9,
                  "current_stance_macro_f1": None, "new_stance_macro_f1": None}
    stance_line = format_comparison(comparison).splitlines()[2]
    assert stance_line.split() == ["stance", "macro-F1", "-", "-"]


@pytest.mark.parametrize("current, new, shown", [(0.8, 0.9, ["0.800", "0.900"]),
                                                  (0.90312, 0.90287, ["0.9031", "0.9029"]),
                                                  (0.9030004, 0.9030001, ["0.903000", "0.903000"]),
                                                  (0.903, 0.903, ["0.903", "0.903"])])
def test_a_comparison_shows_the_two_category_scores_apart(current: float, new: float, shown: list[str]) -> None:
    """A model worse by less than 0.0005 was refused while both scores printed the same."""
    comparison = {"comparable": True, "current_version": "v1", "n_compared": 9, "n_held_out": 9,
                  "current_macro_f1": current, "new_macro_f1": new,
                  "current_stance_macro_f1": 0.6, "new_stance_macro_f1": 0.6}
    assert format_comparison(comparison).splitlines()[1].split()[2:] == shown


def test_unknown_config_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "train.toml"
    path.write_text("[training]\nC_category = 2.0\nlearning_rate = 3\n")
    with pytest.raises(Exception, match="unknown training setting\\(s\\) learning_rate"):
        resolve_config(path)
    path.write_text("[training]\nC_category = 2.0\n")
    assert resolve_config(path, seed=7).C_category == 2.0 and resolve_config(path, seed=7).seed == 7
    with pytest.raises(ConfigError, match="evidence_power"):
        resolve_config(evidence_power=-0.5)
    with pytest.raises(ConfigError, match="dense_weight must be 0 \\(no dense cues\\) or more, got -1.0"):
        resolve_config(dense_weight=-1.0)
    with pytest.raises(ConfigError, match="sentence_min_share must be between 0 \\(off\\) and 1, got 1.5"):
        resolve_config(sentence_min_share=1.5)
    path.write_text('[training]\nswap_insults = "half"\n')
    with pytest.raises(ConfigError, match="train.toml: training setting swap_insults must be float, got 'half'"):
        resolve_config(path)
    path.write_text("[training]\ncv_folds = 2.5\nspelling = 1\n")
    with pytest.raises(ConfigError, match="cv_folds must be int"):
        resolve_config(path)
    assert resolve_config(swap_insults=1).swap_insults == 1  # an int where a float is due


@pytest.mark.parametrize("setting", ["C_characters = nan", "C_characters = inf", "dense_weight = nan",
                                     "evidence_power = inf"])
def test_a_setting_that_is_not_a_finite_number_is_refused(tmp_path: Path, setting: str) -> None:
    """TOML's nan and inf passed the range checks: C_characters = nan ended `moderate train` in a
    scikit-learn traceback, and dense_weight = nan spun the fit on every core without end."""
    path = tmp_path / "train.toml"
    path.write_text(f"[training]\n{setting}\n")
    name = setting.split()[0]
    with pytest.raises(ConfigError, match=f"train.toml: training setting {name} must be a finite number"):
        resolve_config(path)


def _old_library(card: dict) -> None:
    card["versions"]["scikit-learn"] = "0.0.1"


def _other_feature_code(card: dict) -> None:
    card["reference_scores"][0]["category"] = [1.0, 0.0, 0.0]


@pytest.mark.parametrize("break_card", [_old_library, _other_feature_code])
def test_incompatible_shipped_model_is_retrained(trained_dir: Path, tmp_path: Path, break_card,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = tmp_path / "shipped"
    shutil.copytree(trained_dir, shipped)
    card = json.loads((shipped / CARD_FILE).read_text())
    break_card(card)
    (shipped / CARD_FILE).write_text(json.dumps(card))
    monkeypatch.setattr(models, "DEFAULT_MODEL_DIR", shipped)
    monkeypatch.setattr(sources, "load_seed_data", small_seed_data)  # what is retrained is not the point
    moderator, loaded_card = models.load_serving_model(shipped, tmp_path / "data")
    assert loaded_card["versions"]["scikit-learn"] != "0.0.1"
    assert (models.fallback_model_dir(tmp_path / "data") / CARD_FILE).exists()
    assert moderator.moderate_one("you absolute moron").category == "abusive"


def test_a_default_retrained_for_another_shipped_model_is_retrained_not_served(
        trained_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After an upgrade ships a new default (new seeds), the one retrained for the old default is stale."""
    import training.train

    shipped = tmp_path / "shipped"
    shutil.copytree(trained_dir, shipped)
    card = json.loads((shipped / CARD_FILE).read_text())
    _old_library(card)
    (shipped / CARD_FILE).write_text(json.dumps(card))
    stale = models.fallback_model_dir(tmp_path / "data")
    shutil.copytree(trained_dir, stale)  # usable here, but retrained for an earlier shipped model
    monkeypatch.setattr(models, "DEFAULT_MODEL_DIR", shipped)
    monkeypatch.setattr(sources, "load_seed_data", small_seed_data)  # what is retrained is not the point
    stale_version = json.loads((stale / CARD_FILE).read_text())["model_version"]
    _, served = models.load_serving_model(shipped, tmp_path / "data")
    assert served["model_version"] != stale_version
    monkeypatch.setattr(training.train, "train", lambda *args, **kwargs: pytest.fail("retrained twice"))
    assert models.load_serving_model(shipped, tmp_path / "data")[1]["model_version"] == served["model_version"]


def test_probe_sentences_are_distinct_and_absent_from_the_labelled_set() -> None:
    probes = identity_sentences() + criticism_sentences()
    assert len(set(probes)) == len(probes)
    benchmark_probes = [line for path in sorted(BENCHMARK_PROBES.glob("*.txt"))
                        for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(benchmark_probes) == 3496
    labelled = {_folded(record["text"]) for record in seed_data().records}
    assert not [probe for probe in probes + benchmark_probes if _folded(probe) in labelled]


@pytest.mark.parametrize("number, n_rows, parts", [
    (20, 1010, {"literal_sense", "author_criticism", "group_harm"}),
    (24, 3313, {"everyday_words"}),
    (28, 498, {"literal_sense"}),
    (31, 2400, {"person_harm", "people_harm", "group_insult", "harm_in_long", "ordinary_words"}),
    (32, 2392, {"short_civil"}),
])
def test_kept_out_rounds_are_labelled_and_kept_out_of_training(number: int, n_rows: int, parts: set[str]) -> None:
    rows = [json.loads(line) for line in (EVALUATION / f"round{number}.jsonl").read_text(encoding="utf-8").splitlines()]
    records = seed_data().records
    articles = {record["group"] for record in records}
    assert len(rows) == n_rows
    assert {row["part"] for row in rows} == parts
    assert all(row["category"] in CATEGORIES and row["stance"] in STANCES and row["article_id"] in articles
               for row in rows)
    labelled = {_folded(record["text"]) for record in records}
    assert not [row["text"] for row in rows if _folded(row["text"]) in labelled]


def _folded(text: str) -> str:
    """``text`` lower-cased with its whitespace collapsed."""
    return " ".join(text.lower().split())


def test_ctrl_c_while_the_model_is_written_waits_until_it_is_whole() -> None:
    import os
    import signal

    from training.train import interrupts_deferred

    said, written = [], []
    started_with = signal.signal(signal.SIGINT, signal.default_int_handler)  # a terminal's, not nohup's SIG_IGN
    try:
        with interrupts_deferred(said.append):
            os.kill(os.getpid(), signal.SIGINT)
            written.append("artifact, card and report")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, started_with)
    assert written and said == ["Ctrl-C came while the model was being written: it was finished first"]


def test_sigterm_while_the_model_is_written_is_acted_on_once_it_is_whole() -> None:
    import os
    import signal

    from training.train import interrupts_deferred

    said, events = [], []
    started_with = signal.signal(signal.SIGTERM, lambda number, frame: events.append("terminated"))
    try:
        with interrupts_deferred(said.append):
            os.kill(os.getpid(), signal.SIGTERM)
            events.append("artifact, card and report written")
    finally:
        signal.signal(signal.SIGTERM, started_with)
    assert events == ["artifact, card and report written", "terminated"]
    assert said == ["SIGTERM came while the model was being written: it was finished first"]


def test_an_output_that_cannot_be_a_model_folder_is_refused_before_training(tmp_path) -> None:
    from click.testing import CliRunner

    from service.cli import cli

    (tmp_path / "afile").write_text("x")
    for out in (tmp_path / "afile", tmp_path / "afile" / "model"):
        result = CliRunner().invoke(cli, ["train", "--cv-folds", "0", "--out", str(out)])
        assert result.exit_code == 1 and f"{tmp_path / 'afile'} is a file; give a folder" in result.output
        assert "splitting" not in result.output


def test_a_file_where_a_model_not_promoted_would_go_is_refused_before_training(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model.candidate").write_text("x")
    with pytest.raises(ConfigError, match=r"model\.candidate, where a new model that is not promoted is written, "
                                          r"is a file"):
        train(LabelledData([], []), TrainingConfig(cv_folds=0), tmp_path / "model")


def test_a_model_folder_whose_parent_cannot_take_a_candidate_is_refused_before_training(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model not promoted is written beside the current one: a read-only parent failed after the fit."""
    import training.train

    (tmp_path / "model").mkdir()
    monkeypatch.setattr(training.train.os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(ConfigError, match=r"model\.candidate is written for a new model that is not promoted, "
                                          r"is not writable"):
        train(LabelledData([], []), TrainingConfig(cv_folds=0), tmp_path / "model")


@pytest.mark.parametrize("override, message", [
    ({"seed": -1}, "seed must be between 0 and 2\\*\\*32 - 1, got -1"), ({"seed": 2**40}, "seed must be between"),
    ({"C_category": 0.0}, "C_category must be a number above 0"), ({"C_stance": float("nan")}, "C_stance must be"),
    ({"min_df": 0}, "min_df must be at least 1"),
])
def test_settings_out_of_range_are_refused_before_training(override: dict, message: str) -> None:
    from model.errors import ConfigError
    from training.config import resolve_config

    with pytest.raises(ConfigError, match=message):
        resolve_config(**override)


@pytest.mark.parametrize("text, message", [
    ("cv_folds = 0\n[training]\nseed = 1\n", "both at the top level \\(cv_folds\\) and in \\[training\\]"),
    ("training = 5\n", "'training' must be a table"), (b"\xff\xfe", "cannot read training config"),
])
def test_config_files_that_cannot_be_read_as_meant_are_named(tmp_path: Path, text, message: str) -> None:
    from model.errors import ConfigError
    from training.config import resolve_config

    path = tmp_path / "train.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=f"{path}: .*{message}"):
        resolve_config(path)


def test_training_data_without_both_sides_of_the_line_is_refused_before_fitting(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from service.cli import cli

    source = tmp_path / "abusive_only.jsonl"
    source.write_text("".join(json.dumps({"text": f"You utter fool number {n}.", "category": "abusive",
                                          "article_id": f"a{n % 12}"}) + "\n" for n in range(120)))
    result = CliRunner().invoke(cli, ["train", "--data", str(source), "--cv-folds", "0", "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and "hold abusive" in result.output and "--include-seeds" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m").exists()


def test_a_misspelt_article_column_is_refused_but_a_default_one_may_be_absent(tmp_path: Path) -> None:
    from model.errors import DataError
    from training.sources import ColumnMap, load_source

    source = tmp_path / "mine.csv"
    source.write_text("body,verdict,thread\nYou fool.,abusive,t1\nFair point.,substantive,t2\n")
    columns = ColumnMap(text="body", label="verdict")
    assert load_source(str(source), columns).records[0]["group"] != "t1"  # no article_id column: fine
    assert [r["group"] for r in load_source(str(source), ColumnMap(text="body", label="verdict",
                                                                   article_id="thread")).records] == ["t1", "t2"]
    with pytest.raises(DataError, match="no column 'thred' \\(set --article-id-column\\)"):
        load_source(str(source), ColumnMap(text="body", label="verdict", article_id="thred"))


def test_macro_f1_counts_only_classes_the_labels_or_predictions_hold() -> None:
    import numpy as np

    from training.metrics import classification_report

    one_right = classification_report(np.array([0]), np.array([[0.9, 0.05, 0.05]]), CATEGORIES)
    assert one_right["macro_f1"] == 1.0 and one_right["per_class"][CATEGORIES[2]]["support"] == 0
    one_wrong = classification_report(np.array([0, 2]), np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1]]), CATEGORIES)
    assert one_wrong["macro_f1"] == round((2 / 3 + 0) / 2, 4)
