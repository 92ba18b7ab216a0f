"""`moderate train`, `eval` and `score` driven through the CLI."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import seed_data, small_seed_data

from model.artifact import DEFAULT_MODEL_DIR
from model.errors import DataError
from model.labels import CATEGORIES
from service.cli import cli
from training.sources import ColumnMap, load_source


def write_operator_csv(path: Path, n: int = 900) -> None:
    """An operator's archive: other column names, abusive-or-not labels as 1/0."""
    records = seed_data().records
    kept = [r for r in records if r["category"] != "whataboutism"][:n]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["comment_id", "body", "verdict", "thread"])
        for r in kept:
            writer.writerow([r["id"], r["text"], int(r["category"] == "abusive"), r["group"]])


def test_train_on_an_operators_csv_with_column_flags(tmp_path: Path) -> None:
    data = tmp_path / "archive.csv"
    write_operator_csv(data)
    out = tmp_path / "model"
    result = CliRunner().invoke(cli, [
        "train", "--data", str(data), "--text-column", "body", "--label-column", "verdict",
        "--id-column", "comment_id", "--article-id-column", "thread", "--label-map",
        "1=abusive,0=substantive", "--cv-folds", "0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "labels only abusive, substantive" in result.output
    assert "macro-F1" in result.output
    card = json.loads((out / "model_card.json").read_text())
    assert card["training_data"][0]["rows"] == 900
    scored = CliRunner().invoke(cli, ["score", "you are a pathetic idiot", "--model", str(out)])
    assert json.loads(scored.output)["category"] == "abusive"


@pytest.mark.parametrize("flags, environment", [(["--out", ""], {}), (["--out", " "], {}),
                                               ([], {"MODERATE_MODEL_DIR": ""})])
def test_an_empty_model_folder_is_refused_not_read_as_the_current_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], environment: dict) -> None:
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps({"text": r["text"], "category": r["category"], "article_id": r["group"]}) + "\n"
                            for r in small_seed_data(n_articles=12, per_article=20).records))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["train", "--data", str(data), "--cv-folds", "0", *flags], env=environment)
    assert result.exit_code in (1, 2) and "is empty: give a folder" in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labelled.jsonl"]


def test_train_reports_a_missing_column(tmp_path: Path) -> None:
    data = tmp_path / "archive.csv"
    write_operator_csv(data, n=20)
    result = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "no column 'text' (set --text-column)" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("flag", ["--stance-column", "--id-column"])
def test_a_stance_or_id_column_named_by_a_flag_must_exist(tmp_path: Path, flag: str) -> None:
    """A mistyped name was read as an absent column: every stance, or every id, was dropped unsaid."""
    data = tmp_path / "labelled.jsonl"
    data.write_text(json.dumps({"text": "You idiot.", "category": "abusive", "stance": "disputes", "id": "c1"}) + "\n")
    result = CliRunner().invoke(cli, ["train", "--data", str(data), flag, "stnce", "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"no column 'stnce' (set {flag}); columns are: category, id, stance, text" in result.output
    bare = tmp_path / "bare.jsonl"  # the default names may be absent
    bare.write_text(json.dumps({"text": "You idiot.", "category": "abusive"}) + "\n")
    assert [(r["stance"], r["id"]) for r in load_source(str(bare), ColumnMap()).records] == [(None, f"{bare}:1")]


def test_train_reports_a_bad_label_with_its_line(tmp_path: Path) -> None:
    data = tmp_path / "archive.jsonl"
    data.write_text(json.dumps({"text": "fine comment", "category": "substantive"}) + "\n" +
                    json.dumps({"text": "another", "category": "spam"}) + "\n")
    result = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert f"{data}:2: field 'category': unknown label 'spam'" in result.output


def test_train_reports_a_hard_case_that_is_not_a_tag_with_its_line(tmp_path: Path) -> None:
    data = tmp_path / "archive.jsonl"
    data.write_text(json.dumps({"text": "fine comment", "category": "substantive", "hard_case": None}) + "\n" +
                    json.dumps({"text": "another", "category": "substantive", "hard_case": ["x"]}) + "\n")
    result = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{data}:2: field 'hard_case': must be a tag (a string) or empty" in result.output


def test_an_operators_hard_case_tags_reach_the_insult_swap(tmp_path: Path) -> None:
    """The swap reads ``literal_sense`` (training.augment), so a source's tags are kept; none: None."""
    data = tmp_path / "archive.jsonl"
    rows = [{"text": "The pig farm floods.", "category": "substantive", "hard_case": "literal_sense"},
            {"text": "You pig.", "category": "abusive"}]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    records = load_source(str(data), ColumnMap()).records
    assert [record["hard_case"] for record in records] == ["literal_sense", None]


def test_a_bad_row_is_named_by_its_line_in_the_file_after_blank_lines_and_multi_line_fields(tmp_path: Path) -> None:
    jsonl = tmp_path / "gaps.jsonl"
    jsonl.write_text('{"text": "a", "category": "abusive"}\n\n\n{"text": "b", "category": "spam"}\n')
    with pytest.raises(DataError, match=":4: field 'category'"):
        load_source(str(jsonl), ColumnMap())
    csv_file = tmp_path / "gaps.csv"
    csv_file.write_text('text,category\n"one\ntwo\nthree",abusive\n\nfine,substantive\nc,spam\n')
    with pytest.raises(DataError, match=":7: field 'category'"):
        load_source(str(csv_file), ColumnMap())
    assert load_source(str(csv_file), ColumnMap(label_map={"spam": "abusive"})).records[2]["id"] == f"{csv_file}:7"


def test_a_csv_line_of_spaces_before_the_header_or_a_row_is_skipped_as_the_loader_skips_it(tmp_path: Path) -> None:
    """The loader skipped it and the line count did not, so every later row was named by a guess."""
    csv_file = tmp_path / "spaces.csv"
    csv_file.write_text(' \ntext,category\na,abusive\n \t \nb,substantive\nc,spam\n')
    with pytest.raises(DataError, match=":6: field 'category': unknown label 'spam'"):
        load_source(str(csv_file), ColumnMap())
    csv_file.write_text('text,category\na,abusive\n"   ",substantive\nc,spam\n')  # quoted: a row, its text empty
    with pytest.raises(DataError, match=":3: field 'text': missing, empty"):
        load_source(str(csv_file), ColumnMap())


def test_a_csv_row_with_too_many_fields_is_named_by_the_line_it_starts_on(tmp_path: Path) -> None:
    """pandas refused it with its own count ("Expected 2 fields in line 4, saw 3", for a row starting
    on line 5 after a row spanning lines), in place of the file's line."""
    csv_file = tmp_path / "wide.csv"
    csv_file.write_text('text,category\na,abusive\n"two\nlines",substantive\nc,abusive,extra\n')
    with pytest.raises(DataError, match=r"wide\.csv:5: expected 2 fields as in the header, found 3$"):
        load_source(str(csv_file), ColumnMap())


@pytest.mark.parametrize("command", ["train", "eval"])
def test_a_source_given_twice_is_refused(tmp_path: Path, monkeypatch, command: str) -> None:
    """Its rows were trained (or scored) twice without a word."""
    data = tmp_path / "a.csv"
    data.write_text("text,category\nfine,substantive\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, [command, "--data", str(data), "--data", "./a.csv"])
    assert result.exit_code == 1 and "--data ./a.csv is given twice: its rows would count twice" in result.output


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    """pandas renamed the second 'text' to 'text.1', which was silently left out (moderate label
    refuses such a header)."""
    data = tmp_path / "a.csv"
    data.write_text("text,category,text\nA fair point.,substantive,You idiot.\n")
    result = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and f"{data}:1: column 'text' appears twice in the header" in result.output


def test_a_csv_row_with_too_few_fields_is_refused_by_its_line(tmp_path: Path) -> None:
    """A text with an unquoted line break splits one row into two short ones; pandas filled their missing
    cells with '' and trained on the halves (`moderate label` refused the same rows)."""
    csv_file = tmp_path / "short.csv"
    csv_file.write_text("text,category,article_id\na,abusive,1\nb,substantive\n")
    with pytest.raises(DataError, match=r"short\.csv:3: expected 3 fields as in the header, found 2$"):
        load_source(str(csv_file), ColumnMap())


LAB3 = 'body,verdict\n"You are an idiot, shut up",1\nFair point about the budget,0\nAnother civil comment,\n'
ZERO_ONE = ColumnMap(text="body", label="verdict", label_map={"1": "abusive", "0": "substantive"})


def test_a_saved_dataset_dict_is_read_by_its_train_split_and_refused_without_one(tmp_path: Path) -> None:
    """A DatasetDict without a 'train' split was refused as "cannot load: 'train'"."""
    from datasets import Dataset, DatasetDict

    rows = Dataset.from_list([{"text": "You idiot.", "category": "abusive"}])
    DatasetDict({"train": rows, "test": rows.map(lambda r: {"category": "spam"})}).save_to_disk(tmp_path / "both")
    assert [r["category"] for r in load_source(str(tmp_path / "both"), ColumnMap()).records] == ["abusive"]
    DatasetDict({"test": rows}).save_to_disk(tmp_path / "test_only")
    with pytest.raises(DataError, match=r"test_only: this `datasets` folder holds splits \['test'\] and no 'train'"):
        load_source(str(tmp_path / "test_only"), ColumnMap())


def test_class_labels_of_a_saved_dataset_or_its_parquet_are_read_by_their_names(tmp_path: Path) -> None:
    """A `datasets` ClassLabel column holds numbers: category 2 was "unknown label 2" for 'abusive',
    and a stance had no --label-map to name it."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "category": ClassLabel(names=list(CATEGORIES)),
                         "stance": ClassLabel(names=["supports", "disputes", "neutral"])})
    rows = Dataset.from_dict({"text": ["You idiot.", "What about Iraq?"], "category": [2, 1],
                              "stance": [1, -1]}, features=features)  # -1: no label
    DatasetDict({"train": rows}).save_to_disk(tmp_path / "saved")
    rows.to_parquet(tmp_path / "written.parquet")  # datasets keeps the class names in the schema
    for source in (tmp_path / "saved", tmp_path / "written.parquet"):
        records = load_source(str(source), ColumnMap()).records
        assert [(r["category"], r["stance"]) for r in records] == [("abusive", "disputes"), ("whataboutism", None)]
    mapped = ColumnMap(label_map={"whataboutism": "substantive"})  # a map names the classes too
    assert [r["category"] for r in load_source(str(tmp_path / "saved"), mapped).records] == ["abusive", "substantive"]


def test_numeric_ids_are_read_as_the_id_they_write(tmp_path: Path) -> None:
    """pandas writes an id column with a gap as floats: 12.0 was id '12.0', never matching the moderator's
    decision on comment 12, and the gap's NaN was id 'nan'; article id 0 was read as no article."""
    import pandas as pd

    data = tmp_path / "ids.parquet"
    pd.DataFrame({"text": ["You idiot.", "Fair point.", "Thanks."],
                  "category": ["abusive", "substantive", "substantive"],
                  "id": [12, None, 7], "article_id": [0, 0, 3]}).to_parquet(data)
    records = load_source(str(data), ColumnMap()).records
    assert [(r["id"], r["group"]) for r in records] == [("12", "0"), (f"{data}:2", "0"), ("7", "3")]


def test_a_csv_of_zero_one_labels_with_an_empty_cell_names_that_cells_line(tmp_path: Path) -> None:
    """The column was read as floats, so '1' became 1.0, missed the map and was blamed on line 2."""
    data = tmp_path / "lab3.csv"
    data.write_text(LAB3)
    with pytest.raises(DataError, match=r"lab3\.csv:4: field 'verdict': missing or empty"):
        load_source(str(data), ZERO_ONE)
    data.write_text(LAB3.replace("comment,\n", "comment,0\n"))
    assert [r["category"] for r in load_source(str(data), ZERO_ONE).records] == ["abusive", "substantive",
                                                                                 "substantive"]


def test_train_and_eval_name_the_empty_label_cell_of_a_csv(tmp_path: Path) -> None:
    data = tmp_path / "lab3.csv"
    data.write_text(LAB3)
    flags = ["--data", str(data), "--text-column", "body", "--label-column", "verdict",
             "--label-map", "1=abusive,0=substantive"]
    for command in (["train", *flags, "--out", str(tmp_path / "m")],
                    ["eval", *flags, "--model", str(DEFAULT_MODEL_DIR)]):  # the shipped model: no training
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert f"{data}:4: field 'verdict': missing or empty" in result.output, command[0]


def test_csv_cells_are_read_as_the_text_they_hold(tmp_path: Path) -> None:
    """'NA' and 'None' are comments (they were read as missing), ids keep their zeros (id '007' was '7'
    and article '0012', in a column with a gap, '12.0'), and an empty cell is empty."""
    data = tmp_path / "texts.csv"
    data.write_text("id,text,category,article_id,article_title,article_body,stance,hard_case\n"
                    "007,NA,substantive,0012,,The body.,,literal_sense\n"
                    "8,None,abusive,,,,,\n")
    first, second = load_source(str(data), ColumnMap()).records
    assert (first["id"], first["text"], first["group"], first["article"]) == ("007", "NA", "0012", "The body.")
    assert (second["text"], second["article"], second["stance"], second["hard_case"]) == ("None", None, None, None)
    assert second["group"] == f"{data}:3"


def test_numeric_labels_of_json_lines_and_parquet_match_the_maps_keys(tmp_path: Path) -> None:
    """JSON 1 and Parquet 1.0 (pandas' int column with a gap) both match the key '1'; JSON true 'true'."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    jsonl = tmp_path / "lab.jsonl"
    jsonl.write_text('{"body": "You idiot", "verdict": 1}\n{"body": "Fair point", "verdict": 0}\n')
    assert [r["category"] for r in load_source(str(jsonl), ZERO_ONE).records] == ["abusive", "substantive"]
    jsonl.write_text('{"body": "You idiot", "verdict": true}\n{"body": "Fair point", "verdict": false}\n')
    true_false = ColumnMap(text="body", label="verdict", label_map={"true": "abusive", "false": "substantive"})
    assert [r["category"] for r in load_source(str(jsonl), true_false).records] == ["abusive", "substantive"]
    parquet = tmp_path / "lab.parquet"
    pq.write_table(pa.table({"body": ["You idiot", "Fair point", "Gap"], "verdict": [1.0, 0.0, None]}), parquet)
    with pytest.raises(DataError, match="lab.parquet:3: field 'verdict': missing or empty"):  # rows from 1
        load_source(str(parquet), ZERO_ONE)
    pq.write_table(pa.table({"body": ["You idiot", "Fair point"], "verdict": [1.0, 0.0]}), parquet)
    assert [r["category"] for r in load_source(str(parquet), ZERO_ONE).records] == ["abusive", "substantive"]


def test_a_row_naming_a_known_article_trains_with_that_articles_text(tmp_path: Path) -> None:
    """A file in the labelled set's own schema names articles by id only."""
    record = seed_data().records[0]
    data = tmp_path / "mine.jsonl"
    rows = [{"text": "Fair point.", "category": "substantive", "article_id": record["group"]},
            {"text": "Fair point.", "category": "substantive", "article_id": "nowhere",
             "article_title": "A title", "article_body": "A body."},
            {"text": "Fair point.", "category": "substantive", "article_id": "nowhere"}]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    known = {record["group"]: record["article"]}
    articles = [r["article"] for r in load_source(str(data), ColumnMap(), known).records]
    assert articles == [record["article"], "A title\n\nA body.", None]
    assert load_source(str(data), ColumnMap()).records[0]["article"] is None


COMMON_TEXTS = [f"comment {word} number {i}" for i, word in enumerate(["alpha", "beta", "gamma", "delta"] * 30)]


def train_small(tmp_path: Path, texts: list[str], min_df: int):
    """`moderate train` on ``texts`` (categories in turn, under eight articles) with this min_df."""
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps({"text": text, "category": CATEGORIES[i % 3], "article_id": f"a{i % 8}"})
                            + "\n" for i, text in enumerate(texts)))
    (tmp_path / "config.toml").write_text(f"min_df = {min_df}\ncv_folds = 0\n")
    return CliRunner().invoke(cli, ["train", "--data", str(data), "--config", str(tmp_path / "config.toml"),
                                    "--out", str(tmp_path / "m")])


@pytest.mark.parametrize("words, min_df, message", [
    ("common", 500, "min_df = 500 asks for n-grams in more texts than a fit sees (at most 90, from 90"),
    ("distinct", 80, "min_df = 80 leaves no word or character n-gram to learn from in 90 comments"),
])
def test_a_min_df_no_n_gram_reaches_is_one_line_naming_it(tmp_path: Path, words: str, min_df: int,
                                                          message: str) -> None:
    """scikit-learn said "Found array with 0 feature(s)" or "Input X contains NaN" in a traceback."""
    random = np.random.default_rng(1)
    texts = COMMON_TEXTS if words == "common" else ["".join(random.choice(list("abcdefghijklmnopqrstuvwxyz"), 12))
                                                    for _ in range(120)]
    result = train_small(tmp_path, texts, min_df)
    assert result.exit_code == 1 and message in result.output and "lower min_df" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m").exists()


def test_a_vocabulary_whose_sentences_the_scorer_cannot_weigh_still_trains(tmp_path: Path) -> None:
    """With min_df 50 the sentence scorer weighs no column: every sentence was unweighed, their mean NaN."""
    result = train_small(tmp_path, COMMON_TEXTS, 50)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "model_card.json").exists()


def test_train_refuses_comments_of_too_few_articles_before_fitting(tmp_path: Path) -> None:
    data = tmp_path / "one_article.jsonl"
    rows = [{"text": f"comment {i}", "category": CATEGORIES[i % 3], "article_id": f"a{i % 4}"} for i in range(30)]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--cv-folds", "0"])
    assert result.exit_code == 1, result.output
    assert "3 article(s) left for training" in result.output and "needs at least 5" in result.output
    assert not (tmp_path / "m").exists()


def test_train_reports_a_missing_file_and_a_bad_label_map(tmp_path: Path) -> None:
    missing = CliRunner().invoke(cli, ["train", "--data", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "no such file or directory" in missing.output
    bad_map = CliRunner().invoke(cli, ["train", "--data", "x.csv", "--label-map", "1=rude"])
    assert bad_map.exit_code == 1 and "unknown label 'rude'" in bad_map.output


@pytest.mark.parametrize("spec", ["exports/decisions.jsonl", "exports/2019/decisions", "exports/"])
def test_a_missing_relative_path_is_no_such_file_not_a_hub_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                spec: str) -> None:
    """A missing file under a folder was sent to the Hugging Face hub as a dataset name: offline, half a
    minute of retries, then "Couldn't reach 'exports/decisions.jsonl' on the Hub"."""
    import datasets

    def hub(*args, **kwargs):
        raise AssertionError("the hub was asked")

    monkeypatch.setattr(datasets, "load_dataset", hub)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["train", "--data", spec, "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and f"{spec}: no such file or directory" in result.output, result.output


def test_parquet_text_that_is_not_utf8_is_refused_by_its_row_and_field(tmp_path: Path) -> None:
    """A Parquet writer need not check UTF-8: such a value was a UnicodeDecodeError traceback."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = pa.array([b"A fair point.", b"You idiot.", b"caf\xe9 idiots"]).view(pa.string())
    pq.write_table(pa.table({"text": texts, "category": ["substantive", "abusive", "abusive"]}),
                   tmp_path / "a.parquet")
    result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path / "a.parquet"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"{tmp_path / 'a.parquet'}:3: field 'text': not valid UTF-8 (byte 0xe9)" in result.output


def test_a_parquet_file_without_rows_holds_no_rows(tmp_path: Path) -> None:
    """The loader failed on it with "cannot load: BatchSize must be greater than 0, got 0"."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": pa.array([], pa.string()), "category": pa.array([], pa.string())}),
                   tmp_path / "a.parquet")
    result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path / "a.parquet"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and f"{tmp_path / 'a.parquet'}: the file holds no rows" in result.output


def test_train_refuses_a_label_map_that_maps_a_raw_label_twice(tmp_path: Path) -> None:
    """The later entry silently won."""
    result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path / "x.csv"), "--label-map",
                                      "1=abusive,1=substantive,0=substantive"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--label-map maps '1' twice (to 'abusive' and to 'substantive')" in result.output


@pytest.mark.parametrize("name, content, message", [
    ("bytes.jsonl", b'{"text": "caf\xe9", "category": "abusive"}\n', "bytes.jsonl:1: not valid UTF-8 (byte 0xe9 at column 14)"),
    ("half.jsonl", b'{"text": "\\ud800 x", "category": "abusive"}\n',
     "half.jsonl:1: field 'text': holds a lone surrogate"),
    ("mixed.jsonl", b'{"text": "a", "category": "abusive"}\n[1]\n', "mixed.jsonl:2: expected a JSON object, found list"),
    ("empty.jsonl", b"\n", "empty.jsonl: the file holds no rows"),
    ("bytes.csv", b"text,category\ncaf\xe9,abusive\n", "bytes.csv:2: not valid UTF-8 (byte 0xe9 at column 4)"),
])
def test_eval_names_the_line_of_a_file_the_loaders_cannot_read(trained_dir: Path, tmp_path: Path, name: str,
                                                               content: bytes, message: str) -> None:
    """The ``datasets`` loaders said "An error occurred while generating the dataset", "StopIteration"
    or raised a traceback for these."""
    (tmp_path / name).write_bytes(content)
    result = CliRunner().invoke(cli, ["eval", "--data", str(tmp_path / name), "--model", str(trained_dir)])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_eval_of_a_shipped_default_unusable_here_evaluates_the_one_retrained_for_it(
        trained_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from service import models

    shipped = tmp_path / "shipped"
    shutil.copytree(trained_dir, shipped)
    card = json.loads((shipped / "model_card.json").read_text())
    card["versions"]["scikit-learn"] = "0.1.0"
    (shipped / "model_card.json").write_text(json.dumps(card))
    retrained = models.fallback_model_dir(tmp_path / "data")
    shutil.copytree(trained_dir, retrained)
    (retrained / models.RETRAINED_FROM_FILE).write_text(json.dumps({"shipped_artifact_sha256": card["artifact"]["sha256"]}))
    retrained_card = json.loads((retrained / "model_card.json").read_text())
    retrained_card["model_version"] = "retrained-here"  # the one eval must name
    (retrained / "model_card.json").write_text(json.dumps(retrained_card))
    monkeypatch.setattr(models, "DEFAULT_MODEL_DIR", shipped)
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    data = tmp_path / "labelled.jsonl"
    data.write_text(json.dumps({"text": "you absolute moron", "category": "abusive"}) + "\n")
    result = CliRunner().invoke(cli, ["eval", "--data", str(data), "--model", str(shipped)])
    assert result.exit_code == 0, result.output
    assert "model retrained-here on 1 comments" in result.output


def test_eval_on_a_labelled_file(trained_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "labelled.jsonl"
    rows = [{"text": "You are a disgusting idiot.", "category": "abusive"},
            {"text": "Thanks for this careful report on the camps.", "category": "substantive"},
            {"text": "And what about Guantanamo, hypocrites?", "category": "whataboutism"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(cli, ["eval", "--data", str(data), "--model", str(trained_dir)])
    assert result.exit_code == 0, result.output
    assert "on 3 comments" in result.output and "macro-F1" in result.output
    metrics = json.loads((trained_dir / "metrics.json").read_text())  # the checks training ran
    identity, criticism = metrics["identity_check"], metrics["criticism_check"]
    assert f"identity check: {identity['n_scored_abusive']}/{identity['n_sentences']} " in result.output
    assert f"criticism check: {criticism['n_scored_abusive']}/{criticism['n_sentences']} " in result.output


def test_eval_without_data_uses_the_held_out_articles(trained_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "--model", str(trained_dir), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    stored = json.loads((trained_dir / "metrics.json").read_text())
    assert report["category"]["macro_f1"] == stored["held_out"]["category"]["macro_f1"]
    assert report["criticism_check"] == stored["criticism_check"]
    assert report["identity_check"] == stored["identity_check"]


def test_eval_without_data_reads_the_articles_the_card_names(trained_dir: Path, tmp_path: Path) -> None:
    """It drew the split again from the card's seed, which for a model trained on other seed articles
    (or a split since changed) could hold articles the model trained on."""
    from training.sources import load_seed_data

    model = tmp_path / "model"
    shutil.copytree(trained_dir, model)
    card = json.loads((model / "model_card.json").read_text())
    named = sorted(card["metrics"]["held_out_articles"])[:2]
    card["metrics"]["held_out_articles"] = named
    (model / "model_card.json").write_text(json.dumps(card))
    expected = sum(record["group"] in named for record in load_seed_data().records)
    result = CliRunner().invoke(cli, ["eval", "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert f"on {expected} comments" in result.output and 0 < expected


def test_eval_without_data_of_a_model_held_out_on_no_seed_article_says_to_give_data(
        trained_dir: Path, tmp_path: Path) -> None:
    """A model trained on an operator's own articles left no seed comment to score: it was a traceback
    from scikit-learn ("Found empty input array")."""
    model = tmp_path / "model"
    shutil.copytree(trained_dir, model)
    card = json.loads((model / "model_card.json").read_text())
    card["metrics"]["held_out_articles"] = ["operators-own-article", "another-one"]
    (model / "model_card.json").write_text(json.dumps(card))
    result = CliRunner().invoke(cli, ["eval", "--model", str(model)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "held out on 2 article(s) none of which the shipped labelled set holds" in result.output
    assert "--data" in result.output


def test_score_from_argument_and_stdin(trained_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["score", "Nobody cares when the US does it.", "--article",
                                      "003_2d5113ef618b1c85", "--model", str(trained_dir)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert {"model_version", "category", "scores", "stance", "stance_scores", "decision", "reasons",
            "explanation"} <= set(payload)
    piped = CliRunner().invoke(cli, ["score", "--model", str(trained_dir)], input="great work, thank you\n")
    assert piped.exit_code == 0 and json.loads(piped.output)["category"] == "substantive"


@pytest.mark.parametrize("top", ["2", "0", "10"])
def test_score_gives_as_many_explanation_entries_as_the_service(trained_dir: Path, monkeypatch, top: str) -> None:
    """MODERATE_EXPLAIN_TOP was checked by `moderate score` (abc is refused) but not used: it always
    printed 6 entries, where the service gives the number set."""
    monkeypatch.setenv("MODERATE_EXPLAIN_TOP", top)
    result = CliRunner().invoke(cli, ["score", "What about the US torture camps, you morons?",
                                      "--model", str(trained_dir)])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["explanation"]) == int(top)


def test_score_rejects_unknown_article_and_empty_text(trained_dir: Path) -> None:
    unknown = CliRunner().invoke(cli, ["score", "hi", "--article", "nope", "--model", str(trained_dir)])
    assert unknown.exit_code == 1 and "unknown article_id 'nope'" in unknown.output
    assert "POST /v1/articles" in unknown.output and "inline" not in unknown.output  # the CLI has no inline article
    blank = CliRunner().invoke(cli, ["score", "hi", "--article", " ", "--model", str(trained_dir)])
    assert blank.exit_code == 2 and "--article is empty" in blank.output  # was scored without an article
    empty = CliRunner().invoke(cli, ["score", "   ", "--model", str(trained_dir)])
    assert empty.exit_code == 1 and "empty" in empty.output
    not_utf8 = CliRunner().invoke(cli, ["score", "--model", str(trained_dir)], input=b"hi \xff there")
    assert not_utf8.exit_code == 1 and "standard input is not valid UTF-8 (byte 3)" in not_utf8.output
    argument = CliRunner().invoke(cli, ["score", os.fsdecode(b"hi \xff there"), "--model", str(trained_dir)])
    assert argument.exit_code == 1 and "the comment argument is not valid UTF-8 (byte 3)" in argument.output
    unix = CliRunner().invoke(cli, ["score", "--model", str(trained_dir)], input=b"Great work,\nthank you\n")
    windows = CliRunner().invoke(cli, ["score", "--model", str(trained_dir)],
                                 input=b"\xef\xbb\xbfGreat work,\r\nthank you\r\n")  # a byte-order mark, CRLF
    assert windows.exit_code == 0 and windows.output == unix.output


def test_ndjson_and_upper_case_names_load_as_moderate_label_reads_them(tmp_path: Path) -> None:
    """`moderate label` read a.ndjson and B.JSONL; training refused both as an unsupported file type."""
    rows = '{"text": "You idiot.", "category": "abusive"}\n{"text": "Good piece.", "category": "substantive"}\n'
    for name in ("a.ndjson", "B.JSONL", "c.CSV"):
        path = tmp_path / name
        path.write_text(rows if "csv" not in name.lower() else "text,category\nYou idiot.,abusive\nGood piece.,substantive\n")
        loaded = load_source(str(path), ColumnMap())
        assert [r["category"] for r in loaded.records] == ["abusive", "substantive"], name


def test_loading_a_source_draws_no_progress_bar_of_datasets(tmp_path: Path, capsys) -> None:
    """`eval --data` printed "Generating train split: 2 examples" bars on stderr beside its own report."""
    path = tmp_path / "lab.csv"
    path.write_text("text,category\nYou idiot.,abusive\nGood piece.,substantive\n")
    load_source(str(path), ColumnMap())
    assert "Generating train split" not in capsys.readouterr().err


def test_a_source_is_named_in_the_card_by_its_absolute_path(tmp_path: Path, monkeypatch) -> None:
    """Given as a relative path ("small.csv"), it was recorded so, which names no file elsewhere."""
    from training.sources import ColumnMap, load_source

    (tmp_path / "small.csv").write_text("text,category\nfine,substantive\n")
    monkeypatch.chdir(tmp_path)
    loaded = load_source("small.csv", ColumnMap())
    assert loaded.sources[0]["path"] == str(tmp_path.resolve() / "small.csv")
    assert loaded.records[0]["id"] == "small.csv:2" and loaded.records[0]["source"] == "small.csv"
