"""Spelling features: character n-grams inside words, scored word by word."""

from __future__ import annotations

import numpy as np

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
