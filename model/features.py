"""Features of a comment: TF-IDF word n-grams of the text and of each sentence, plus dense cues.

The dense cues compare the comment with its article (whataboutism is a change of subject) and count
lexicon hits (insults, profanity, dehumanising words, violence), so that the linear models on top can
explain a score in words a moderator understands.
"""

from __future__ import annotations

import math
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from model.text import WORD, normalise, read_lexicon, split_sentences

DEFLECTION_CUES = re.compile("|".join([
    r"\bwhat about\b", r"\bhow about\b", r"\bwhat of\b", r"\bwhatabout", r"\bhypocri",
    r"\bkettle\b", r"\bglass house", r"\bown (back ?yard|house|doorstep|country|government|crimes)",
    r"\bclean (up )?(your|their|our) own\b", r"\bbefore (you|we|they) (lecture|criticis|criticiz|judge|point)",
    r"\bwhere (was|were|is) (the|your|their) (outrage|concern|coverage)", r"\bnobody (talks|cares|mentions|says)",
    r"\bno one (talks|cares|mentions|says)", r"\b(funny|interesting|strange|curious) how\b",
    r"\bdouble standards?\b", r"\bselective (outrage|concern)", r"\bpales? (next to|in comparison)",
    r"\bcompared (to|with) what\b", r"\bmeanwhile\b", r"\blook in the mirror\b", r"\bwho are (we|you) to\b",
    r"\blectur(e|ing)\b", r"\bsanctimonious\b", r"\bdid (you|we|they|everyone) forget\b",
    r"\bremember (iraq|vietnam|when|libya|afghanistan)\b", r"\bsame (thing|as|people) (who|that)?\b",
    r"\b(and|but) (the )?(us|usa|uk|america|israel|china|russia|saudi|west)\b",
    r"\bnever (hear|heard|see|saw) (you|them|the media)\b", r"\bwhy (not|no) (mention|talk)",
    r"\bwhy (don't|doesn't|didn't) (you|they|the media)\b", r"\b(also|too) (do|did|does) (it|this|that)\b",
]))
STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been
being it its this that these those i you he she we they me him her us them my your his our their
not no so do does did have has had will would can could should just than then there here what which
who whom how why when where all any some more most very too also about into over after before up out
""".split())
SECOND_PERSON = frozenset({"you", "your", "you're", "youre", "u", "ur", "yourself", "ya", "yours"})
CAPITALISED = re.compile(r"\b[A-Z][A-Za-z]{2,}\b")
DENSE_FEATURES = (
    "has article", "similarity to article", "overlap with article", "subjects absent from article",
    "places absent from article", "places and peoples named", "deflection cues", "insults",
    "profanity", "dehumanising words", "violent words", "insults in one sentence",
    "addresses the reader (you)", "length", "capital letters", "exclamation marks", "question marks",
)
SIMILARITY = DENSE_FEATURES.index("similarity to article")
ARTICLE_CACHE_SIZE = 4096


@dataclass
class FeatureBatch:
    """Features of a batch of comments."""

    text: sp.csr_matrix
    sentences: sp.csr_matrix
    sentence_owner: np.ndarray
    sentence_texts: list[str]
    dense: np.ndarray


class CommentFeaturizer(BaseEstimator):
    """Turns (comment, article or None) pairs into TF-IDF n-grams and dense cues."""

    def __init__(self, min_df: int = 2, max_features: int = 60000) -> None:
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, texts: list[str]) -> "CommentFeaturizer":
        """Learn the n-gram vocabulary and IDF weights from comment texts."""
        document_frequency: Counter = Counter()
        for text in texts:
            document_frequency.update(set(_grams_of(normalise(text))))
        kept = [g for g, n in document_frequency.most_common(self.max_features) if n >= self.min_df]
        kept.sort()
        self.vocabulary_ = {gram: index for index, gram in enumerate(kept)}
        n_documents = len(texts)
        self.idf_ = np.array([math.log((1 + n_documents) / (1 + document_frequency[g])) + 1
                              for g in kept])
        self.feature_names_ = kept + [f"[{name}]" for name in DENSE_FEATURES]
        self._init_caches()
        return self

    def _init_caches(self) -> None:
        """Lexicons and the article cache (rebuilt after unpickling, never pickled)."""
        self._lexicons = {name: read_lexicon(name) for name in
                          ("insults", "profanity", "dehumanising", "violence", "places")}
        self._articles: OrderedDict[str, tuple[sp.csr_matrix, frozenset[str]]] = OrderedDict()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_lexicons", None)
        state.pop("_articles", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if hasattr(self, "vocabulary_"):
            self._init_caches()

    @property
    def n_text_features(self) -> int:
        """Number of n-gram columns."""
        return len(self.vocabulary_)

    def transform(self, texts: list[str], articles: list[str | None]) -> FeatureBatch:
        """Features of comments, each with its article's text or None."""
        vocabulary_get = self.vocabulary_.get
        doc_rows: list[int] = []
        sentence_rows: list[int] = []
        columns: list[int] = []
        owners: list[int] = []
        sentence_texts: list[str] = []
        dense = np.zeros((len(texts), len(DENSE_FEATURES)))
        rows_by_article: dict[str, list[int]] = {}
        for row, (text, article) in enumerate(zip(texts, articles)):
            normalised = normalise(text)
            tokens: list[str] = []
            max_insults = 0
            for sentence in split_sentences(normalised):
                words = WORD.findall(sentence)
                grams = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
                ids = [i for i in map(vocabulary_get, grams) if i is not None]
                sentence_index = len(owners)
                owners.append(row)
                sentence_texts.append(sentence)
                columns.extend(ids)
                doc_rows.extend([row] * len(ids))
                sentence_rows.extend([sentence_index] * len(ids))
                tokens.extend(words)
                max_insults = max(max_insults, sum(w in self._lexicons["insults"] for w in words))
            dense[row] = self._dense(text, normalised, tokens, max_insults, article)
            if article:
                rows_by_article.setdefault(article, []).append(row)
        n_features = self.n_text_features
        text_matrix = self._tfidf(doc_rows, columns, len(texts), n_features)
        for article, rows in rows_by_article.items():
            vector = self._article_features(article)[0]
            dense[rows, SIMILARITY] = (text_matrix[rows] @ vector.T).toarray().ravel()
        sentence_matrix = self._tfidf(sentence_rows, columns, len(owners), n_features)
        return FeatureBatch(text_matrix, sentence_matrix, np.array(owners, dtype=np.int64),
                            sentence_texts, dense)

    def _tfidf(self, rows: list[int], columns: list[int], n_rows: int, n_columns: int
               ) -> sp.csr_matrix:
        """Sublinear TF-IDF rows, L2-normalised."""
        matrix = sp.csr_matrix((np.ones(len(columns)), (rows, columns)), shape=(n_rows, n_columns))
        matrix.sum_duplicates()
        matrix.data = (1.0 + np.log(matrix.data)) * self.idf_[matrix.indices]
        norms = np.sqrt(np.add.reduceat(matrix.data ** 2, matrix.indptr[:-1])) if matrix.nnz else []
        lengths = np.diff(matrix.indptr)
        if matrix.nnz:
            row_norms = np.where(lengths > 0, norms, 1.0)
            matrix.data /= np.repeat(row_norms, lengths)
        return matrix

    def _article_features(self, article: str) -> tuple[sp.csr_matrix, frozenset[str]]:
        """An article's TF-IDF vector and word set, cached by its text."""
        cached = self._articles.get(article)
        if cached is not None:
            self._articles.move_to_end(article)
            return cached
        normalised = normalise(article)
        words = WORD.findall(normalised)
        grams = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
        ids = [i for i in map(self.vocabulary_.get, grams) if i is not None]
        vector = self._tfidf([0] * len(ids), ids, 1, self.n_text_features)
        entry: tuple[sp.csr_matrix, frozenset[str]]
        entry = (vector, frozenset(words) | frozenset(g for g in grams if " " in g))
        self._articles[article] = entry
        if len(self._articles) > ARTICLE_CACHE_SIZE:
            self._articles.popitem(last=False)
        return entry

    def _dense(self, text: str, normalised: str, tokens: list[str], max_insults: int,
               article: str | None) -> list[float]:
        """The dense cues of one comment, similarity to the article filled in later."""
        lexicons = self._lexicons
        bigrams = [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
        places = [t for t in tokens + bigrams if t in lexicons["places"]]
        content = [t for t in tokens if t not in STOPWORDS and len(t) > 2]
        subjects = [w.lower() for w in CAPITALISED.findall(text) if w.lower() not in STOPWORDS]
        has_article, overlap, absent_subjects, absent_places = 0.0, 0.0, 0.0, 0.0
        if article:
            article_words = self._article_features(article)[1]
            has_article = 1.0
            overlap = sum(t in article_words for t in content) / len(content) if content else 0.0
            absent_subjects = math.log1p(sum(s not in article_words for s in subjects))
            absent_places = math.log1p(sum(p not in article_words for p in places))
        n_tokens = len(tokens)
        letters = [c for c in text if c.isalpha()]
        return [
            has_article, 0.0, overlap, absent_subjects, absent_places,
            math.log1p(len(places)), math.log1p(len(DEFLECTION_CUES.findall(normalised))),
            math.log1p(sum(t in lexicons["insults"] for t in tokens)),
            math.log1p(sum(t in lexicons["profanity"] for t in tokens)),
            math.log1p(sum(t in lexicons["dehumanising"] for t in tokens)),
            math.log1p(sum(t in lexicons["violence"] for t in tokens)),
            math.log1p(max_insults),
            sum(t in SECOND_PERSON for t in tokens) / n_tokens if n_tokens else 0.0,
            math.log1p(n_tokens),
            sum(c.isupper() for c in letters) / len(letters) if letters else 0.0,
            math.log1p(text.count("!")), math.log1p(text.count("?")),
        ]

def _grams_of(normalised: str) -> list[str]:
    """Unigrams and within-sentence bigrams of a normalised text."""
    grams: list[str] = []
    for sentence in split_sentences(normalised):
        words = WORD.findall(sentence)
        grams.extend(words)
        grams.extend(f"{a} {b}" for a, b in zip(words, words[1:]))
    return grams
