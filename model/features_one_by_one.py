"""The featurizer's path for small batches: one comment at a time in plain Python, which beats the
vectorised path's fixed per-call cost below a few dozen comments. Tests hold both paths equal."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from model.cues import (CAPITALISED, COUNTED_BITS, COUNTED_MASK, DEFLECTION_CUES, DENSE_FEATURES,
                        DEHUMANISING, INSULT, PROFANITY, SECOND_PERSON_BIT, STOPWORDS, VIOLENCE, FeatureBatch,
                        character_cues, positions_in, tfidf_rows)
from model.languages import qualify_sentences
from model.spelling import spelling_logits
from model.text import normalise, sentence_words


def transform_one_by_one(featurizer, table, texts: list[str], articles: list[str | None]) -> FeatureBatch:
    """Features of comments, each with its article's text or None, computed comment by comment."""
    vocabulary_get = featurizer.vocabulary_.get
    doc_rows: list[int] = []
    sentence_rows: list[int] = []
    columns: list[int] = []
    owners: list[int] = []
    tokens: list[str] = []
    sentence_starts: list[int] = []
    sentence_lengths: list[int] = []
    dense = np.zeros((len(texts), len(DENSE_FEATURES)))
    word_ids: list[int] = []
    word_comments: list[int] = []
    for row, text in enumerate(texts):
        words_of_comment: list[str] = []
        grams_of_comment: list[str] = []
        bits_of_comment: list[int] = []
        max_insults = 0
        sentences = sentence_words(normalise(text))
        for shown, words in zip(sentences, qualify_sentences(sentences)):
            pairs = list(map(" ".join, pairwise(words)))
            grams = words + pairs
            ids_of_words = list(map(table.__getitem__, map(str.encode, words)))
            known = np.concatenate([table.columns[ids_of_words], table.stem_columns[ids_of_words]])
            ids = known[known >= 0].tolist() + [i for i in map(vocabulary_get, pairs) if i is not None]
            owners.append(row)
            sentence_starts.append(len(tokens))
            sentence_lengths.append(len(shown))
            tokens.extend(shown)
            tokens.append(".")
            columns.extend(ids)
            doc_rows.extend([row] * len(ids))
            sentence_rows.extend([len(owners) - 1] * len(ids))
            words_of_comment.extend(words)
            grams_of_comment.extend(grams)
            word_ids.extend(ids_of_words)
            word_comments.extend([row] * len(words))
            bits = table.properties[ids_of_words].tolist()
            bits_of_comment.extend(bits)
            max_insults = max(max_insults, sum(1 for b in bits if b & INSULT))
        dense[row] = _dense(featurizer, table, text, words_of_comment, grams_of_comment,
                            bits_of_comment, max_insults, articles[row])
    idf = featurizer.idf_
    text_matrix = tfidf_rows(doc_rows, columns, len(texts), idf)
    for row, article in enumerate(articles):
        if article:
            dense[row, 1] = _similarity(text_matrix, row, featurizer._article(table, article))
    dense[:, 14:] = character_cues(texts)
    batch = FeatureBatch(text_matrix, tfidf_rows(sentence_rows, columns, len(owners), idf),
                         np.array(owners, dtype=np.int64), dense, tokens,
                         np.array(sentence_starts, dtype=np.int64), np.array(sentence_lengths, dtype=np.int64))
    if table.spelling is not None:
        batch.spelling, batch.spelling_terms = spelling_logits(
            table.spelling, np.array(word_ids, dtype=np.int64), np.array(word_comments, dtype=np.int64),
            len(texts), table.word_of)
    return batch


def _similarity(text_matrix, row: int, article) -> float:
    """Cosine similarity of one comment's TF-IDF row with its article's."""
    start, end = text_matrix.indptr[row], text_matrix.indptr[row + 1]
    position = positions_in(article.columns, text_matrix.indices[start:end])
    matched = position >= 0
    return float(np.dot(text_matrix.data[start:end][matched], article.values[position[matched]]))


def _dense(featurizer, table, text: str, words: list[str], grams: list[str], bits: list[int],
           max_insults: int, article: str | None) -> list[float]:
    """The dense cues of one comment (similarity and character cues filled in by the caller)."""
    flagged = [b for b in bits if b & COUNTED_MASK]  # the few words any count needs
    counts = {bit: sum(1 for b in flagged if b & bit) for bit in COUNTED_BITS}
    places = featurizer._lexicons["places"].words.intersection(grams)
    has_article, overlap, absent_subjects, absent_places = 0.0, 0.0, 0.0, 0.0
    if article:
        article_words = featurizer._article(table, article).words
        has_article = 1.0
        content = [w for w in words if w not in STOPWORDS and len(w) > 2]
        subjects = {w.lower() for w in CAPITALISED.findall(text)} - STOPWORDS
        overlap = sum(w in article_words for w in content) / len(content) if content else 0.0
        absent_subjects = math.log1p(len(subjects - article_words))
        absent_places = math.log1p(sum(p not in article_words for p in places))
    n_words = len(words)
    return [
        has_article, 0.0, overlap, absent_subjects, absent_places,
        math.log1p(len(places)), math.log1p(len(DEFLECTION_CUES.intersection(grams))),
        math.log1p(counts[INSULT]), math.log1p(counts[PROFANITY]),
        math.log1p(counts[DEHUMANISING]), math.log1p(counts[VIOLENCE]), math.log1p(max_insults),
        math.log1p(counts[SECOND_PERSON_BIT]), math.log1p(n_words), 0.0, 0.0, 0.0,
    ]
