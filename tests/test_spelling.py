"""Spelling features: character n-grams inside words, scored word by word."""

from __future__ import annotations

import numpy as np
import pytest

import model.spelling
from model.spelling import SPELLING_PREFIX, SpellingVocabulary, shown_word, word_grams


def test_grams_are_orders_two_to_four_inside_the_padded_word() -> None:
    assert word_grams("rat") == [" r", "ra", "at", "t ", " ra", "rat", "at ", " rat", "rat "]
    assert word_grams("nl:hoe") == word_grams("hoe")
    assert shown_word("de:die") == "die" and shown_word("die") == "die"


def test_masked_words_have_no_spelling_and_vectors_sum_over_words() -> None:
    comments = [["koreans", "are", "rats"], ["rats", "everywhere"], ["koreans", "rats"]]
    vocabulary = SpellingVocabulary(min_df=2).fit(comments, frozenset({"koreans"}))
    assert not any("kor" in gram for gram in vocabulary.vocabulary_)
    assert vocabulary.words_matrix(["koreans"]).nnz == 0
    matrix = vocabulary.comments_matrix([["rats", "koreans"], ["rats"], ["rats", "rats"]]).toarray()
    np.testing.assert_allclose(matrix[0], matrix[1])  # the masked word adds nothing
    np.testing.assert_allclose(matrix[2], matrix[1] * np.sqrt(2))  # sum over root of summed squares
    np.testing.assert_allclose(np.linalg.norm(matrix[1]), 1.0)


def test_explanations_name_the_words_whose_spelling_counted(moderator) -> None:
    result = moderator.moderate_one("Those torturers and their torturings deserve a tribunal.")
    spelt = [item["feature"][len(SPELLING_PREFIX):] for item in result.explanation
             if item["feature"].startswith(SPELLING_PREFIX)]
    assert spelt, result.explanation
    assert set(spelt) <= {"those", "torturers", "and", "their", "torturings", "deserve", "a", "tribunal"}


@pytest.mark.parametrize("few_words", [0, 16], ids=["array pass", "word by word"])
def test_cells_count_each_words_grams_as_a_direct_count_does(few_words, monkeypatch) -> None:
    from collections import Counter
    monkeypatch.setattr(model.spelling, "FEW_WORDS", few_words)
    comments = [["lalala", "la", "정말", "𠀀𠀁x", "koreans", "nl:hoe", "hoe"], ["lala", "𠀀𠀁y", "정말로", "a"],
                ["𠀀𠀁x", "lalala", "hoe", "x"]]
    vocabulary = SpellingVocabulary(min_df=1).fit(comments, frozenset({"koreans"}))
    words = ["lalala", "koreans", "", "정말", "𠀀𠀁x", "nl:hoe", "unseen", "a", "lalala"]
    owners, columns, values = vocabulary.cells(words)
    expected = sorted((i, vocabulary.vocabulary_[gram], count) for i, word in enumerate(words)
                      if word != "koreans"
                      for gram, count in Counter(word_grams(word)).items() if gram in vocabulary.vocabulary_)
    assert list(zip(owners.tolist(), columns.tolist())) == [(i, c) for i, c, _ in expected]
    np.testing.assert_allclose(values, [n * vocabulary.idf_[c] for _, c, n in expected])
    assert (columns[owners == 0] == vocabulary.vocabulary_["la"]).any()  # "la" three times in "lalala"
    assert values[(owners == 0) & (columns == vocabulary.vocabulary_["la"])][0] == \
        3 * vocabulary.idf_[vocabulary.vocabulary_["la"]]


def test_cells_of_a_few_words_are_those_of_the_array_pass(monkeypatch) -> None:
    comments = [["lalala", "la", "정말", "koreans", "nl:hoe", "hoe"], ["lala", "정말로", "a"], ["lalala", "hoe", "x"]]
    vocabulary = SpellingVocabulary(min_df=1).fit(comments, frozenset({"koreans"}))
    words = ["lalala", "koreans", "", "정말", "nl:hoe", "unseen", "a", "lalala", "𠀀𠀁x"]
    for few in (words[:8], words):  # the last word's code point beyond 16 bits: always the array pass
        word_by_word = vocabulary.cells(few)
        monkeypatch.setattr(model.spelling, "FEW_WORDS", 0)
        array_pass = vocabulary.cells(few)
        monkeypatch.undo()
        for ours, theirs in zip(word_by_word, array_pass):
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


@pytest.mark.parametrize("few_ids", [0, 256], ids=["array pass", "set"])
def test_word_scores_score_each_new_word_once_and_keep_known_ones(few_ids, monkeypatch) -> None:
    from model.spelling import WordScores, unit_scores
    monkeypatch.setattr(model.spelling, "FEW_IDS", few_ids)
    words = ["", "", "lalala", "hoe", "koreans", "unseen", "la"]  # ids 0 and 1 are never words
    vocabulary = SpellingVocabulary(min_df=1).fit([words[2:]], frozenset({"koreans"}))
    weights = np.arange(len(vocabulary.vocabulary_) * 2, dtype=float).reshape(-1, 2) / 7
    scores = WordScores(vocabulary, weights)
    scored: list[str] = []

    def word_of(i: int) -> str:
        scored.append(words[i])
        return words[i]

    rows = scores.of_ids(np.array([2, 5, 2, 6, 3]), word_of)
    assert sorted(scored) == ["hoe", "la", "lalala", "unseen"]  # each new word once
    expected = unit_scores(vocabulary.cells(words), weights, len(words))
    assert np.array_equal(rows, expected[[2, 5, 2, 6, 3]])
    rows = scores.of_ids(np.array([4, 3, 1500]), lambda i: scored.append("far") or "koreans")
    assert scored.count("far") == 2 and scored.count("hoe") == 1  # 4 and 1500 new, 3 known
    assert np.array_equal(rows[:2], expected[[4, 3]]) and np.array_equal(rows[2], expected[4])
    before = scores.rows.copy()
    scores._score_new(np.array([2, 3]), word_of)  # as from a caller that looked before another thread scored them
    assert scored.count("lalala") == 1 and scored.count("hoe") == 1  # not scored again
    assert np.array_equal(scores.rows, before, equal_nan=True)
