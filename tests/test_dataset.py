"""The labelled set: validation (naming file, line, field), the datasets loader and the grouped split."""

from __future__ import annotations

import json
import shutil
from functools import lru_cache
from pathlib import Path

import pytest
from conftest import shipped_dataset
from datasets import ClassLabel

from model.labels import CATEGORIES, STANCES
from seeds import SEEDS_DIR
from training.dataset import (ARTICLES_FILE, COMMENTS_FILE, MIN_PER_CATEGORY, MIN_WRITTEN,
                              load_labelled_set, split_grouped, validate_labelled_set)
from training.sources import load_seed_data


@lru_cache(maxsize=1)
def shipped_report():
    """The shipped set's validation report, made once for the tests that read it (seconds each)."""
    return validate_labelled_set(SEEDS_DIR)


def test_shipped_set_is_valid_and_large_enough() -> None:
    report = shipped_report()
    assert report.problems == []
    assert report.by_source["written"] >= MIN_WRITTEN
    assert report.by_source["seed_comment"] == 10
    assert all(report.by_category[c] >= MIN_PER_CATEGORY for c in CATEGORIES)
    assert report.n_written_articles >= 20


def test_shipped_set_has_hard_cases_in_quantity() -> None:
    report = shipped_report()
    for tag in ("blunt_disagreement", "criticism_of_state", "dehumanising_generalisation",
                "implicit_whataboutism", "other_country_substantive", "identity_mention", "threat",
                "thanks_or_personal"):
        assert report.by_hard_case[tag] >= 30, tag


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    """A tiny valid labelled set to break in tests."""
    (tmp_path / ARTICLES_FILE).write_text(json.dumps(
        {"id": "a1", "title": "T", "body": "B", "source": "written"}) + "\n")
    rows = [
        {"id": "c1", "article_id": "a1", "text": "The report is careful and convincing on the camps.",
         "category": "substantive", "stance": "supports", "rationale": "agrees", "source": "written"},
        {"id": "c2", "article_id": "a1", "text": "And yet nobody in Washington ever answers for Iraq.",
         "category": "whataboutism", "stance": "disputes", "rationale": "deflects", "source": "written"},
    ]
    write_comments(tmp_path, rows)
    return tmp_path


def write_comments(directory: Path, rows: list[dict]) -> None:
    (directory / COMMENTS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))


def read_rows(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / COMMENTS_FILE).read_text().splitlines()]


def problems_after(directory: Path, change) -> list[str]:
    rows = read_rows(directory)
    change(rows)
    write_comments(directory, rows)
    return validate_labelled_set(directory, check_minimums=False).problems


def test_small_set_is_valid(small_set: Path) -> None:
    assert validate_labelled_set(small_set, check_minimums=False).problems == []


def test_unknown_label_names_line_and_field(small_set: Path) -> None:
    problems = problems_after(small_set, lambda rows: rows[1].update(category="rude"))
    assert problems == [f"{small_set / COMMENTS_FILE}:2: field 'category': unknown label 'rude' "
                        "(expected one of substantive, whataboutism, abusive)"]


def test_missing_field_names_line_and_field(small_set: Path) -> None:
    problems = problems_after(small_set, lambda rows: rows[0].pop("stance"))
    assert problems == [f"{small_set / COMMENTS_FILE}:1: field 'stance': missing or empty"]


def test_a_hard_case_tag_that_is_not_a_string_names_line_and_field(small_set: Path) -> None:
    problems = problems_after(small_set, lambda rows: rows[0].update(hard_case=["sarcasm"]))
    expected = f"{small_set / COMMENTS_FILE}:1: field 'hard_case': must be a tag (a string) or null, got list"
    assert problems == [expected]


def test_hard_case_tags_reach_the_training_records(small_set: Path) -> None:
    """The insult swap reads the literal_sense tag, so the loader keeps tags (untagged: None)."""
    write_comments(small_set, [{**read_rows(small_set)[0], "hard_case": "literal_sense"}, read_rows(small_set)[1]])
    records = sorted(load_seed_data(small_set).records, key=lambda record: record["id"])
    assert [record["hard_case"] for record in records] == ["literal_sense", None]


def test_unknown_article(small_set: Path) -> None:
    problems = problems_after(small_set, lambda rows: rows[1].update(article_id="nope"))
    assert problems == [f"{small_set / COMMENTS_FILE}:2: field 'article_id': unknown article 'nope'"]


def test_exact_duplicate_ignores_case_and_punctuation(small_set: Path) -> None:
    def duplicate(rows):
        rows.append(dict(rows[0], id="c3", text=rows[0]["text"].upper().rstrip(".") + "!!"))
    problems = problems_after(small_set, duplicate)
    assert problems == [f"{small_set / COMMENTS_FILE}:3: field 'text': exact duplicate of line 1"]


def test_near_duplicate(small_set: Path) -> None:
    text = ("The commission documented torture starvation and executions in the camps over many "
            "years and nobody was ever held to account for any of it")
    def near(rows):
        rows.append(dict(rows[0], id="c3", text=text))
        rows.append(dict(rows[0], id="c4", text=text + " at all"))
    problems = problems_after(small_set, near)
    assert len(problems) == 1
    assert problems[0].startswith(f"{small_set / COMMENTS_FILE}:4: field 'text': near-duplicate of line 3")


def test_duplicate_id(small_set: Path) -> None:
    problems = problems_after(small_set, lambda rows: rows[1].update(id="c1"))
    assert problems == [f"{small_set / COMMENTS_FILE}:2: field 'id': duplicate id 'c1' (first at line 1)"]


def test_invalid_json_line(small_set: Path) -> None:
    with open(small_set / COMMENTS_FILE, "a") as handle:
        handle.write('{"id": "c9", \n')
    problems = validate_labelled_set(small_set, check_minimums=False).problems
    assert len(problems) == 1 and problems[0].startswith(f"{small_set / COMMENTS_FILE}:3: invalid JSON")


def test_minimums_are_enforced(small_set: Path) -> None:
    problems = validate_labelled_set(small_set).problems
    assert any("written comments (at least 2000 required)" in p for p in problems)
    assert any("'abusive' comments (at least 500 required)" in p for p in problems)


def test_dataset_dict_has_class_labels_and_grouped_split() -> None:
    dataset = shipped_dataset()
    assert set(dataset) == {"train", "test"}
    assert isinstance(dataset["train"].features["category"], ClassLabel)
    assert dataset["train"].features["category"].names == list(CATEGORIES)
    assert dataset["train"].features["stance"].names == list(STANCES)
    train_articles, test_articles = set(dataset["train"]["article_id"]), set(dataset["test"]["article_id"])
    assert train_articles.isdisjoint(test_articles)
    assert 0.1 < len(dataset["test"]) / (len(dataset["train"]) + len(dataset["test"])) < 0.35
    assert set(dataset["test"]["category"]) == {0, 1, 2}


def test_split_is_deterministic_and_is_the_loaders() -> None:
    dataset = shipped_dataset()
    articles = list(dataset["train"]["article_id"]) + list(dataset["test"]["article_id"])
    assert {articles[i] for i in split_grouped(articles, seed=0)[1]} == set(dataset["test"]["article_id"])
    assert split_grouped(articles, seed=3) == split_grouped(list(articles), seed=3)
    assert split_grouped(articles, seed=4)[1] != split_grouped(articles, seed=3)[1]


def held_out_groups(groups: list[str]) -> set[str]:
    return {groups[i] for i in split_grouped(groups)[1]}


def test_comments_added_under_articles_never_move_the_split() -> None:
    groups = [f"article-{i % 40}" for i in range(400)]
    held_out = held_out_groups(groups)
    assert len(held_out) == 8
    assert held_out_groups(groups + ["article-3"] * 50 + [min(held_out)] * 50) == held_out


def test_a_new_article_moves_at_most_one_other_across_the_split() -> None:
    groups = [f"article-{i % 40}" for i in range(400)]
    held_out = held_out_groups(groups)
    for new in range(40, 60):
        moved = held_out_groups(groups + [f"article-{new}"]) ^ held_out
        assert moved <= {f"article-{new}"} or (len(moved) == 2 and f"article-{new}" in moved)


def test_loader_refuses_an_invalid_set(small_set: Path) -> None:
    problems_after(small_set, lambda rows: rows[0].update(category="rude"))
    with pytest.raises(Exception, match="labelled set is invalid"):
        load_labelled_set(small_set)


def test_copy_of_shipped_set_validates_from_elsewhere(tmp_path: Path) -> None:
    for name in (ARTICLES_FILE, COMMENTS_FILE):
        shutil.copy(SEEDS_DIR / name, tmp_path / name)
    assert validate_labelled_set(tmp_path).ok
