"""The featurizer's path for small batches: one comment at a time in plain Python, which beats the
vectorised path's fixed per-call cost below about four comments. Tests hold both paths equal."""

from __future__ import annotations

import math
from bisect import bisect_left
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

from model.cues import (
    CONTENT,
    COUNTED_BITS,
    COUNTED_MASK,
    DEFLECTION_CUES,
    DEHUMANISING,
    DENSE_FEATURES,
    INSULT,
    PROFANITY,
    SECOND_PERSON_BIT,
    STOPWORDS,
    VIOLENCE,
    FeatureBatch,
    capitalised_words,
    character_counts,
    csr_from_parts,
    log1p_count,
    quoted_insults,
    sorted_counts,
)
from model.languages import qualify_sentences
from model.spelling import spelling_logits
from model.text import CLAUSE_WORDS, clause_starts, normalise, sentence_words


def transform_one_by_one(featurizer, table, texts: list[str], articles: list[str | None]) -> FeatureBatch:
    """Features of comments, each with its article's text or None, computed comment by comment."""
    vocabulary_get = featurizer.vocabulary_.get
    comment_columns: list[list[int]] = []  # per comment, its n-gram columns, a column once per occurrence
    sentence_columns: list[list[int]] = []  # the same per sentence
    owners: list[int] = []
    tokens: list[str] = []
    sentence_starts: list[int] = []
    sentence_lengths: list[int] = []
    dense = np.zeros((len(texts), len(DENSE_FEATURES)))
    word_ids: list[int] = []
    word_comments: list[int] = []
    for row, text in enumerate(texts):
        normalised = normalise(text)
        sentences = sentence_words(normalised)
        qualified = qualify_sentences(sentences)
        words = [word for sentence in qualified for word in sentence]
        ids_of_words = list(map(table.__getitem__, map(str.encode, words)))
        word_columns, stem_columns, bits = _word_rows(table, ids_of_words)
        columns_of_comment: list[int] = []
        grams = list(words)
        insults = [i for i, b in enumerate(bits) if b & INSULT]
        pair_bits: list[int] = []  # the bits of the lexicon pairs it holds ("camel jockey": INSULT)
        pair_words: list[int] = []  # the first word of each
        max_insults, end = 0, 0
        marks = clause_starts(normalised) if featurizer.clauses else [[]] * len(sentences)
        for shown, sentence, marked in zip(sentences, qualified, marks):
            start, end = end, end + len(sentence)
            pairs = list(map(" ".join, pairwise(sentence)))
            grams += pairs
            pair_insults = 0
            if not table.lexicon_pair_words.isdisjoint(sentence):
                for i, b in enumerate(map(table.lexicon_pairs.get, pairs)):
                    if b:
                        pair_words.append(start + i)
                        pair_bits.append(b)
                        pair_insults += bool(b & INSULT)
            pair_columns = list(map(vocabulary_get, pairs))
            columns_of_comment += ([c for c in word_columns[start:end] if c >= 0]
                                   + [c for c in stem_columns[start:end] if c >= 0]
                                   + [c for c in pair_columns if c is not None])
            for first, last in _clauses(sentence, marked) if featurizer.clauses else [(0, len(sentence))]:
                sentence_columns.append([c for c in word_columns[start + first:start + last] if c >= 0]
                                        + [c for c in stem_columns[start + first:start + last] if c >= 0]
                                        + [c for c in pair_columns[first:last - 1] if c is not None])
                owners.append(row)
                sentence_starts.append(len(tokens) + first)
                sentence_lengths.append(last - first)
            tokens += shown
            tokens.append(".")
            if insults or pair_insults:
                in_sentence = bisect_left(insults, end) - bisect_left(insults, start)  # insults is sorted
                max_insults = max(max_insults, pair_insults + in_sentence)
        comment_columns.append(columns_of_comment)
        word_ids += ids_of_words
        word_comments += [row] * len(words)
        dense[row] = _dense(featurizer, table, text, words, grams, (bits, pair_bits), max_insults, articles[row])
        if insults or pair_bits:
            quoted = quoted_insults(normalised, insults + [i for i, b in zip(pair_words, pair_bits) if b & INSULT])
            dense[row, 17] = log1p_count(quoted)
    idf = featurizer._idf_list
    comment_lists = _tfidf_lists(comment_columns, idf)
    text_matrix = _csr(comment_lists, len(idf))
    for row, article in enumerate(articles):
        if article:
            dense[row, 1] = _similarity(comment_lists[row], featurizer._article(table, article))
    for row, text in enumerate(texts):
        share, exclamations, questions = character_counts(text)
        dense[row, 14:17] = share, log1p_count(exclamations), log1p_count(questions)
    one_sentence = len(texts) == 1 and len(sentence_columns) == 1  # its one row is the comment's
    sentence_lists = comment_lists if one_sentence else _tfidf_lists(sentence_columns, idf)
    batch = FeatureBatch(text_matrix, SentenceRows(sentence_lists, len(idf)),
                         np.array(owners, dtype=np.int64), dense, tokens,
                         np.array(sentence_starts, dtype=np.int64), np.array(sentence_lengths, dtype=np.int64))
    if table.spelling is not None:
        batch.spelling, batch.spelling_terms = spelling_logits(
            table.spelling, np.array(word_ids, dtype=np.int64), np.array(word_comments, dtype=np.int64),
            len(texts), table.word_of)
    return batch


def _word_rows(table, ids: list[int]) -> tuple[list[int], list[int], list[int]]:
    """The n-gram column, stem column and property bits of each word id, from the word table."""
    if not ids:
        return [], [], []
    rows = np.array(ids, dtype=np.int64)
    return (table.columns.take(rows).tolist(), table.stem_columns.take(rows).tolist(),
            table.properties.take(rows).tolist())


SUBLINEAR = [0.0] + (1.0 + np.log(np.arange(1, 4096))).tolist()  # 1 + log(count) by count, from numpy


def _sublinear_up_to(count: int) -> list[float]:
    """1 + log(n) by n, for every n up to ``count`` at least, as numpy computes it for ``tfidf_rows``."""
    if count < len(SUBLINEAR):
        return SUBLINEAR
    return [0.0] + (1.0 + np.log(np.arange(1, count + 1))).tolist()


def _tfidf_lists(rows: list[list[int]], idf: list[float]) -> list[tuple[list[int], list[float]]]:
    """Each row's columns and TF-IDF values from its columns (one per occurrence): ``tfidf_rows``'s
    floating-point operations in the same order, in plain Python, which is faster for the few dozen
    cells of one comment."""
    lists = []
    for row in rows:
        columns, counts = sorted_counts(row)
        if counts is None:  # each column once: 1 + log(1) is 1.0, and 1.0 * idf is idf
            values = [idf[column] for column in columns]
        else:
            sublinear = _sublinear_up_to(max(counts.values()))
            values = [sublinear[counts[column]] * idf[column] for column in columns]
        total = 0.0
        for value in values:  # in order, as np.bincount sums
            total += value * value
        norm = math.sqrt(total)
        lists.append((columns, [value / norm for value in values]))
    return lists


def _csr(lists: list[tuple[list[int], list[float]]], n_columns: int) -> sp.csr_matrix:
    """A CSR matrix of the rows ``_tfidf_lists`` gives."""
    indptr = [0]
    for columns, _ in lists:
        indptr.append(indptr[-1] + len(columns))
    return csr_from_parts(np.array([v for _, values in lists for v in values], dtype=np.float64),
                          np.array([c for columns, _ in lists for c in columns], dtype=np.int32),
                          np.array(indptr, dtype=np.int32), (len(lists), n_columns))


class SentenceRows:
    """The TF-IDF rows of a few sentences as lists: a linear score of each in plain Python, the
    matrix only when asked for (``FeatureBatch.sentences``)."""

    def __init__(self, lists: list[tuple[list[int], list[float]]], n_columns: int) -> None:
        self.lists = lists
        self.n_columns = n_columns

    def matrix(self) -> sp.csr_matrix:
        """The rows as a CSR matrix."""
        return _csr(self.lists, self.n_columns)

    def scores(self, coef: list[float], intercept: float) -> list[float]:
        """Each row times ``coef``, plus ``intercept``: bit for bit the matrix product, which sums
        each row's products in column order too."""
        scores = []
        for columns, values in self.lists:
            total = 0.0
            for column, value in zip(columns, values):
                total += value * coef[column]
            scores.append(total + intercept)
        return scores


def _similarity(row: tuple[list[int], list[float]], article) -> float:
    """Cosine similarity of one comment's TF-IDF row (columns, values) with its article's."""
    columns, values = row
    total = 0.0
    for value, weight in zip(values, map(article.weights.get, columns)):
        if weight is not None:
            total += value * weight
    return total


def _dense(featurizer, table, text: str, words: list[str], grams: list[str],
           word_and_pair_bits: tuple[list[int], list[int]], max_insults: int, article: str | None) -> list[float]:
    """The dense cues of one comment (similarity and character cues filled in by the caller), from
    the property bits of its words and of the lexicon pairs it holds."""
    bits, pair_bits = word_and_pair_bits
    flagged = [b for b in bits if b & COUNTED_MASK] + pair_bits  # the few words and pairs any count needs
    counts = dict.fromkeys(COUNTED_BITS, 0)
    for b in flagged:
        for bit in COUNTED_BITS:
            if b & bit:
                counts[bit] += 1
    places = featurizer._lexicons["places"].words.intersection(grams)
    has_article, overlap, absent_subjects, absent_places = 0.0, 0.0, 0.0, 0.0
    if article:
        article_words = featurizer._article(table, article).words
        has_article = 1.0
        content = [w for w, b in zip(words, bits) if b & CONTENT]  # not stopwords, over two letters
        subjects = capitalised_words(text) - STOPWORDS
        overlap = sum(map(article_words.__contains__, content)) / len(content) if content else 0.0
        absent_subjects = log1p_count(len(subjects - article_words))
        absent_places = log1p_count(sum(p not in article_words for p in places))
    n_words = len(words)
    return [
        has_article, 0.0, overlap, absent_subjects, absent_places,
        log1p_count(len(places)), log1p_count(len(DEFLECTION_CUES.intersection(grams))),
        log1p_count(counts[INSULT]), log1p_count(counts[PROFANITY]),
        log1p_count(counts[DEHUMANISING]), log1p_count(counts[VIOLENCE]), log1p_count(max_insults),
        log1p_count(counts[SECOND_PERSON_BIT]), log1p_count(n_words), 0.0, 0.0, 0.0, 0.0,
    ]


def _clauses(words: list[str], marked: list[int]) -> list[tuple[int, int]]:
    """The (first, last + 1) word positions of a sentence's clauses: a clause begins after a clause
    mark (``marked``) and at "and" or "but" (see ``model.text.CLAUSE_WORDS``)."""
    starts = sorted({0, *marked, *(i for i, word in enumerate(words) if i and word in CLAUSE_WORDS)})
    return list(zip(starts, starts[1:] + [len(words)]))
