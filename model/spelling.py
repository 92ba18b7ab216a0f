"""Spelling features: the character n-grams inside each word (" id", "idi", "diot", "ot "), which
carry what word n-grams miss in languages that inflect ("tortura", "torturami") and in words the
training set never spelt exactly so.

A comment's spelling vector is the sum of its words' IDF-weighted n-gram counts, divided by the
square root of the sum of each word's own squared norm. Both sums run over words, so a linear
model's score of the vector is a sum of per-word scores: serving looks each word's score up once
and adds, instead of building the vector (see ``WordScores``). Group names (Christians, Koreans ...)
have no spelling, as they have no word n-grams.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import scipy.sparse as sp

from model.languages import SEPARATOR

SPELLING_ORDERS = (2, 3, 4)
SPELLING_PREFIX = "[spelling] "  # how an explanation names a word's spelling


def word_grams(word: str) -> list[str]:
    """The character n-grams of ``word`` padded with a space at each end (orders 2 to 4)."""
    padded = f" {shown_word(word)} "
    return [padded[i:i + n] for n in SPELLING_ORDERS for i in range(len(padded) - n + 1)]


def shown_word(word: str) -> str:
    """A word as written: a homograph qualified by its comment's language ("nl:hoe") is "hoe"."""
    return word.rsplit(SEPARATOR, 1)[-1]


class SpellingVocabulary:
    """The character n-grams of the words of training comments, with their IDF weights."""

    def __init__(self, min_df: int = 3, max_features: int = 100_000) -> None:
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, comments: list[list[str]], masked: frozenset[str]) -> SpellingVocabulary:
        """Learn n-grams from each comment's words (``masked`` words have no spelling)."""
        self.masked_ = masked
        frequency: Counter = Counter()
        for words in comments:
            frequency.update({gram for word in set(words) if word not in masked for gram in word_grams(word)})
        kept = sorted(g for g, n in frequency.most_common(self.max_features) if n >= self.min_df)
        self.vocabulary_ = {gram: column for column, gram in enumerate(kept)}
        self.idf_ = np.array([math.log((1 + len(comments)) / (1 + frequency[g])) + 1 for g in kept])
        return self

    def cells(self, words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Word index, n-gram column and IDF-weighted count of every n-gram the words hold, sorted
        by word, then column (a masked word holds none)."""
        grams: list[str] = []
        lengths = []
        for word in words:
            held = word_grams(word) if shown_word(word) not in self.masked_ else []
            grams.extend(held)
            lengths.append(len(held))
        columns = np.fromiter(map(self.vocabulary_.get, grams, repeat(-1, len(grams))), np.int64, len(grams))
        owners = np.repeat(np.arange(len(words)), lengths)
        found = columns >= 0
        width = max(len(self.vocabulary_), 1)
        cells, counts = np.unique(owners[found] * width + columns[found], return_counts=True)
        columns = cells % width
        return cells // width, columns, counts * self.idf_[columns]

    def words_matrix(self, words: list[str]) -> sp.csr_matrix:
        """One row per word: its IDF-weighted n-gram counts."""
        owners, columns, values = self.cells(words)
        return sp.csr_matrix((values, (owners, columns)), shape=(len(words), len(self.vocabulary_)))

    def comments_matrix(self, comments: list[list[str]]) -> sp.csr_matrix:
        """One row per comment: the sum of its words' vectors over the root of their squared norms."""
        distinct = sorted({word for words in comments for word in words})
        position = {word: i for i, word in enumerate(distinct)}
        per_word = self.words_matrix(distinct)
        rows = np.repeat(np.arange(len(comments)), [len(words) for words in comments])
        columns = np.array([position[word] for words in comments for word in words], dtype=np.int64)
        counts = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(len(comments), len(distinct)))
        squared_norms = np.asarray(per_word.multiply(per_word).sum(axis=1)).ravel()
        norms = np.sqrt(counts @ squared_norms)
        return sp.diags(1.0 / np.maximum(norms, 1e-12)) @ (counts @ per_word)


class WordScores:
    """Per word, its spelling's contribution to each logit of the heads and its squared norm, kept
    by word id as words are met (word ids are the featurizer's word table's)."""

    def __init__(self, vocabulary: SpellingVocabulary, weights: np.ndarray) -> None:
        self.vocabulary = vocabulary
        self.weights = np.ascontiguousarray(weights)  # n-grams × logits
        self.rows = np.full((1024, weights.shape[1] + 1), np.nan)
        self.lock = threading.Lock()

    def of_ids(self, ids: np.ndarray, word_of: Callable[[int], str]) -> np.ndarray:
        """Rows (logit contributions, then squared norm) for these word ids, scoring new words."""
        known = self.rows
        rows = known[np.minimum(ids, len(known) - 1)]
        new = (ids >= len(known)) | np.isnan(rows[:, -1])
        if not new.any():
            return rows
        new_ids = np.unique(ids[new])
        scored = self._score([word_of(i) for i in new_ids.tolist()])
        with self.lock:
            if new_ids[-1] >= len(self.rows):
                grown = np.full((max(len(self.rows) * 2, int(new_ids[-1]) + 1), known.shape[1]), np.nan)
                grown[:len(self.rows)] = self.rows
                self.rows = grown
            self.rows[new_ids] = scored
        rows[new] = scored[np.searchsorted(new_ids, ids[new])]
        return rows

    def _score(self, words: list[str]) -> np.ndarray:
        """Per word, its contribution to each logit and its squared norm, for all words at once."""
        owners, columns, values = self.vocabulary.cells(words)
        products = self.weights[columns] * values[:, None]
        scored = np.empty((len(words), self.weights.shape[1] + 1))
        for logit in range(self.weights.shape[1]):
            scored[:, logit] = np.bincount(owners, weights=products[:, logit], minlength=len(words))
        scored[:, -1] = np.bincount(owners, weights=values * values, minlength=len(words))
        return scored


@dataclass
class SpellingTerms:
    """Each word of a batch with the comment it is in, for explanations."""

    comments: np.ndarray
    word_ids: np.ndarray
    rows: np.ndarray  # per word, its logit contributions and squared norm (``WordScores``)
    norms: np.ndarray  # per comment, the root of its words' summed squared norms
    word_of: Callable[[int], str]

    @property
    def contributions(self) -> np.ndarray:
        """Per word, its share of each logit of its comment."""
        return self.rows[:, :-1] / np.maximum(self.norms, 1e-12)[self.comments, None]


def spelling_logits(scores: WordScores, word_ids: np.ndarray, comments: np.ndarray, n_comments: int,
                    word_of: Callable[[int], str]) -> tuple[np.ndarray, SpellingTerms]:
    """Per comment, its words' spelling contributions to each logit, and the words themselves."""
    rows = scores.of_ids(word_ids, word_of)
    width = rows.shape[1]
    cells = (comments[:, None] * width + np.arange(width)).ravel()
    sums = np.bincount(cells, weights=rows.ravel(), minlength=n_comments * width).reshape(n_comments, width)
    norms = np.sqrt(sums[:, -1])
    logits = sums[:, :-1] / np.maximum(norms, 1e-12)[:, None]
    return logits, SpellingTerms(comments, word_ids, rows, norms, word_of)
