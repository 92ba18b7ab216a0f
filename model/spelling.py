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
import operator
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from model.cues import most_frequent, run_lengths, run_starts, sorted_counts
from model.phrases import is_phrase_word
from model.text import QUALIFIER

SPELLING_ORDERS = (2, 3, 4)
MAX_ORDER = SPELLING_ORDERS[-1]
KEY_BITS = 16  # per code point in an n-gram key
SPELLING_PREFIX = "[spelling] "  # how an explanation names a word's spelling
FEW_WORDS = 16  # up to this many words, ``cells`` looks n-grams up word by word
FEW_IDS = 256  # up to this many word ids, ``WordScores`` finds the new ones in a set


def _all_in_16_bits(text: str) -> bool:
    """Whether every code point of ``text`` fits in 16 bits, so that n-gram keys never fold it."""
    return text.isascii() or max(text) <= "\uffff"


def word_grams(word: str) -> list[str]:
    """The character n-grams of ``word`` padded with a space at each end (orders 2 to 4)."""
    padded = f" {shown_word(word)} "
    grams: list[str] = []
    of_order: Sequence[str] = padded
    for n in range(2, MAX_ORDER + 1):  # each order's grams extend the order below's by a character
        of_order = list(map(operator.add, of_order, padded[n - 1:]))
        if n in SPELLING_ORDERS:
            grams += of_order
    return grams


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as uint64, those beyond 16 bits folded into the surrogate range
    (0xD800-0xDFFF, by their low 11 bits), so that four fit in one n-gram key."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if points.size and points.max() > 0xFFFF:
        points = np.where(points > 0xFFFF, (points & 0x7FF) | 0xD800, points)
    return points.astype(np.uint64)


def gram_keys(codes: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The key of every n-gram (orders 2 to 4) within one owner of the code points ``codes``, with
    its owner: the gram's code points, 16 bits each, from the top (no code point is 0, so grams of
    different orders differ)."""
    keys, owners = [], []
    key = codes << np.uint64(KEY_BITS * (MAX_ORDER - 1))
    same = np.ones(len(codes), dtype=bool)
    for n in range(2, MAX_ORDER + 1):  # an order's keys extend the order below's
        key = key[:-1] | (codes[n - 1:] << np.uint64(KEY_BITS * (MAX_ORDER - n)))
        same = same[:-1] & (owner[:len(owner) - n + 1] == owner[n - 1:])
        if n in SPELLING_ORDERS:
            keys.append(key[same])
            owners.append(owner[:len(owner) - n + 1][same])
    return np.concatenate(keys), np.concatenate(owners)


def shown_word(word: str) -> str:
    """A word as written: a homograph qualified by its comment's language ("nl:hoe") is "hoe"."""
    return word.rsplit(QUALIFIER, 1)[-1]


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
            frequency.update({gram for word in set(words) if word not in masked and not is_phrase_word(word)
                              for gram in word_grams(word)})
        kept = most_frequent(frequency, self.max_features, self.min_df)
        self.vocabulary_ = {gram: column for column, gram in enumerate(kept)}
        self.idf_ = np.array([math.log((1 + len(comments)) / (1 + frequency[g])) + 1 for g in kept])
        return self

    def cells(self, words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Word index, n-gram column and IDF-weighted count of every n-gram the words hold, sorted
        by word, then column (a masked word, or a crude word inside a fixed phrase, holds none)."""
        shown = [shown_word(word) for word in words]
        kept = [i for i, word in enumerate(shown) if word not in self.masked_ and not is_phrase_word(words[i])]
        if not kept or not self.vocabulary_:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        if len(kept) < len(shown):
            shown = [shown[i] for i in kept]
        if len(shown) <= FEW_WORDS and _all_in_16_bits("".join(shown)):
            return self._cells_word_by_word(kept, shown)
        codes = code_points(" " + "  ".join(shown) + " ")  # each word padded by a space
        owner = np.repeat(np.array(kept, dtype=np.int64), [len(word) + 2 for word in shown])
        keys, owners = gram_keys(codes, owner)
        sorted_keys, key_columns = self._index()
        position = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        found = sorted_keys[position] == keys
        width = max(len(self.vocabulary_), 1)
        cells = np.sort(owners[found] * width + key_columns[position[found]])
        starts = run_starts(cells)
        counts = run_lengths(starts, len(cells))
        owners, columns = np.divmod(cells[starts], width)
        return owners, columns, counts * self.idf_[columns]

    def _cells_word_by_word(self, kept: list[int], shown: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``cells`` of a few words, found by looking their n-grams up one by one (the same cells:
        for a few words, dictionary lookups beat the array pass's fixed cost)."""
        vocabulary_get = self.vocabulary_.get
        owners: list[int] = []
        columns: list[int] = []
        counts: list[int] = []
        for owner, word in zip(kept, shown):
            gram_columns = [c for c in map(vocabulary_get, word_grams(word)) if c is not None]
            found, counted = sorted_counts(gram_columns)
            counts += [1] * len(found) if counted is None else map(counted.__getitem__, found)
            owners += [owner] * len(found)
            columns += found
        column_array = np.array(columns, dtype=np.int64)
        return (np.array(owners, dtype=np.int64), column_array,
                np.array(counts, dtype=np.int64) * self.idf_.take(column_array))

    def _index(self) -> tuple[np.ndarray, np.ndarray]:
        """The vocabulary's n-gram keys (``gram_keys``), sorted, and each one's column (built once)."""
        index = self.__dict__.get("_key_index")
        if index is None:
            grams = sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)
            lengths = np.array([len(gram) for gram in grams], dtype=np.int64)
            starts = np.cumsum(lengths) - lengths
            shifts = (KEY_BITS * (MAX_ORDER - 1 - (np.arange(lengths.sum()) - np.repeat(starts, lengths))))
            shifted = code_points("".join(grams)) << shifts.astype(np.uint64)
            keys = np.bitwise_or.reduceat(shifted, starts) if len(grams) else np.zeros(0, dtype=np.uint64)
            order = np.argsort(keys, kind="stable")
            index = self._key_index = (keys[order], order.astype(np.int64))
        return index

    def __getstate__(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key != "_key_index"}

    def words_matrix(self, words: list[str]) -> sp.csr_matrix:
        """One row per word: its IDF-weighted n-gram counts."""
        owners, columns, values = self.cells(words)
        return sp.csr_matrix((values, (owners, columns)), shape=(len(words), len(self.vocabulary_)))

    def comments_matrix(self, comments: list[list[str]]) -> sp.csr_matrix:
        """One row per comment: the sum of its words' vectors over the root of their squared norms."""
        return summed_vectors(comments, self.words_matrix)

    def comments_factors(self, comments: list[list[str]]) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
        """``comments_matrix`` as its three factors (``summed_factors``)."""
        return summed_factors(comments, self.words_matrix)


def summed_vectors(comments: list[list[str]], vectors_of: Callable[[list[str]], sp.csr_matrix]
                   ) -> sp.csr_matrix:
    """One row per comment: the sum of its units' vectors (``vectors_of`` gives one row per unit)
    over the root of the sum of their squared norms, so that a linear score of it is a sum of
    per-unit scores."""
    weights, counts, per_unit = summed_factors(comments, vectors_of)
    return sp.diags(weights) @ (counts @ per_unit)


def summed_factors(comments: list[list[str]], vectors_of: Callable[[list[str]], sp.csr_matrix]
                   ) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
    """The factors of ``summed_vectors``: per comment, one over the root of its units' summed squared
    norms; comments by distinct units, how often each holds each; and the units' vectors."""
    distinct = sorted({unit for units in comments for unit in units})
    position = {unit: i for i, unit in enumerate(distinct)}
    per_unit = vectors_of(distinct)
    rows = np.repeat(np.arange(len(comments)), [len(units) for units in comments])
    columns = np.array([position[unit] for units in comments for unit in units], dtype=np.int64)
    counts = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(len(comments), len(distinct)))
    norms = np.sqrt(counts @ np.asarray(per_unit.multiply(per_unit).sum(axis=1)).ravel())
    return 1.0 / np.maximum(norms, 1e-12), counts, per_unit.tocsr()


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
        if len(ids) and int(ids.max()) >= len(self.rows):
            self._score_new(ids, word_of)
            return self.rows.take(ids, axis=0)
        rows = self.rows.take(ids, axis=0)  # take: four times faster than rows[ids]
        unscored = np.isnan(rows[:, -1])
        if not unscored.any():
            return rows
        self._score_new(ids[unscored], word_of)
        return self.rows.take(ids, axis=0)

    def _score_new(self, ids: np.ndarray, word_of: Callable[[int], str]) -> None:
        """Score and keep the words among ``ids`` not scored yet (another thread may have scored some)."""
        known = self.rows
        if len(ids) <= FEW_IDS:  # a comment's words: a set beats the array passes
            norms = known[:, -1]
            new_ids = np.array(sorted({i for i in ids.tolist() if i >= len(known) or math.isnan(norms[i])}),
                               dtype=np.int64)
        else:
            new = (ids >= len(known)) | np.isnan(known[np.minimum(ids, len(known) - 1), -1])
            new_ids = np.sort(ids[new])
            new_ids = new_ids[run_starts(new_ids)]
        if not len(new_ids):  # another thread scored them since the caller looked
            return
        scored = self._score([word_of(i) for i in new_ids.tolist()])
        with self.lock:
            if new_ids[-1] >= len(self.rows):
                grown = np.full((max(len(self.rows) * 2, int(new_ids[-1]) + 1), known.shape[1]), np.nan)
                grown[:len(self.rows)] = self.rows
                self.rows = grown
            self.rows[new_ids] = scored

    def _score(self, words: list[str]) -> np.ndarray:
        """Per word, its contribution to each logit and its squared norm, for all words at once."""
        return unit_scores(self.vocabulary.cells(words), self.weights, len(words))


def unit_scores(cells: tuple[np.ndarray, np.ndarray, np.ndarray], weights: np.ndarray, n_units: int
                ) -> np.ndarray:
    """Per unit (word or token), its contribution to each logit and its squared norm, from its cells
    (unit, n-gram column, weighted count; sorted by unit) and the n-grams' weights."""
    owners, columns, values = cells
    products = np.empty((len(columns), weights.shape[1] + 1))
    np.multiply(weights.take(columns, axis=0), values[:, None], out=products[:, :-1])
    np.multiply(values, values, out=products[:, -1])
    return sums_by_owner(products, owners, n_units)


def normalised_sums(rows: np.ndarray, owners: np.ndarray, n_owners: int) -> tuple[np.ndarray, np.ndarray]:
    """Per owner, the sum of its units' logit contributions over the root of their summed squared
    norms (the last column of ``rows``), and that root."""
    sums = sums_by_owner(rows, owners, n_owners)
    if n_owners == 1:  # one root: in Python (both square roots are IEEE's, correctly rounded)
        norm = math.sqrt(sums[0, -1])
        return sums[:, :-1] / max(norm, 1e-12), np.array([norm])
    norms = np.sqrt(sums[:, -1])
    return sums[:, :-1] / np.maximum(norms, 1e-12)[:, None], norms


@dataclass
class SpellingTerms:
    """Each word of a batch with the comment it is in, for explanations."""

    comments: np.ndarray
    ids: np.ndarray  # per word, its id in the word table
    rows: np.ndarray  # per word, its logit contributions and squared norm (``WordScores``)
    norms: np.ndarray  # per comment, the root of its words' summed squared norms
    word_of: Callable[[int], str]

    def token(self, position: int) -> str:
        """The word at ``position``, as written (how an explanation shows it)."""
        return shown_word(self.word_of(int(self.ids[position])))


def spelling_logits(scores: WordScores, word_ids: np.ndarray, comments: np.ndarray, n_comments: int,
                    word_of: Callable[[int], str]) -> tuple[np.ndarray, SpellingTerms]:
    """Per comment, its words' spelling contributions to each logit, and the words themselves
    (``comments``, each word's comment, is non-decreasing)."""
    rows = scores.of_ids(word_ids, word_of)
    logits, norms = normalised_sums(rows, comments, n_comments)
    return logits, SpellingTerms(comments, word_ids, rows, norms, word_of)


def sums_by_owner(rows: np.ndarray, owners: np.ndarray, n_owners: int) -> np.ndarray:
    """Per owner, the sum of its rows (``owners`` is non-decreasing; an owner without rows sums to 0)."""
    if n_owners == 1:
        return np.add.reduce(rows, axis=0, keepdims=True)
    sums = np.zeros((n_owners, rows.shape[1]))
    if len(owners):
        starts = run_starts(owners)
        sums[owners[starts]] = np.add.reduceat(rows, starts, axis=0)
    return sums

