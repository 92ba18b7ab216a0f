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

from model.text import Lexicon, normalise, read_lexicon, sentence_words

# Words and word pairs that signal a change of subject to someone else's wrongdoing. Matched as
# n-grams of the comment (a set intersection), which keeps this cue cheap on long comments.
DEFLECTION_CUES = frozenset("""
what about|how about|what of|whatabout|whataboutism|hypocrite|hypocrites|hypocrisy|hypocritical
kettle|glass houses|own backyard|own house|own doorstep|own country|own government|own crimes
your own|their own|clean up|the outrage|your outrage|outrage when|nobody talks|nobody cares
nobody mentions|no one|funny how|interesting how|strange how|curious how|double standard
double standards|selective outrage|pales|pale next|in comparison|compared to|meanwhile|the mirror
who are|lecture|lecturing|lectures|sanctimonious|you forget|we forget|forget about|remember when
remember iraq|remember vietnam|remember libya|and the|but the|and america|and israel|and china
and russia|the west|never hear|never see|why not|why don't|why doesn't|why didn't|did it|do it too
says the|coming from|where were|bigger problems|bigger problem|real problem|real problems
more important|worse problems|worse things|this news|who cares|must be nice|are dying|are starving
instead of|your party|your side|your guy|your president|your candidate|your team|your church
your country|started it|started this|the other|both sides|the same|themselves|same thing
""".replace("\n", "|").strip("|").split("|"))
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
INSULT, PROFANITY, DEHUMANISING, VIOLENCE, SECOND_PERSON_BIT = 1, 2, 4, 8, 16
LEXICON_BITS = ((INSULT, "insults"), (PROFANITY, "profanity"), (DEHUMANISING, "dehumanising"),
                (VIOLENCE, "violence"))
FLAG_CACHE_SIZE = 200_000
ASCII_LETTERS = dict.fromkeys(range(ord("A"), ord("Z") + 1)) | dict.fromkeys(range(ord("a"), ord("z") + 1))
ASCII_UPPER = dict.fromkeys(range(ord("A"), ord("Z") + 1))
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
        identities = read_lexicon("identities")
        for text in texts:
            document_frequency.update(set(_grams_of(normalise(text))))
        for gram in list(document_frequency):
            if any(word in identities for word in gram.split(" ")):
                del document_frequency[gram]
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
        self._lexicons = {name: Lexicon(name) for name in
                          ("insults", "profanity", "dehumanising", "violence", "places")}
        self._articles: OrderedDict[str, tuple[tuple[np.ndarray, np.ndarray], frozenset[str]]] = OrderedDict()
        self._flags: dict[str, int] = {}
        self._places = self._lexicons["places"].words

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_lexicons", None)
        state.pop("_articles", None)
        state.pop("_flags", None)
        state.pop("_places", None)
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
            grams_of_comment: list[str] = []
            flags_of_comment: list[int] = []
            max_insults = 0
            for words in sentence_words(normalised):
                grams = ngrams_of(words)
                ids = [i for i in map(vocabulary_get, grams) if i is not None]
                owners.append(row)
                sentence_texts.append(" ".join(words))
                columns.extend(ids)
                doc_rows.extend([row] * len(ids))
                sentence_rows.extend([len(owners) - 1] * len(ids))
                tokens.extend(words)
                grams_of_comment.extend(grams)
                flags = self._flags_of(words)
                if flags:
                    flags_of_comment.extend(flags)
                    max_insults = max(max_insults, sum(bool(f & INSULT) for f in flags))
            dense[row] = self._dense(text, normalised, tokens, grams_of_comment, flags_of_comment,
                                     max_insults, article)
            if article:
                rows_by_article.setdefault(article, []).append(row)
        text_matrix = self._tfidf(doc_rows, columns, len(texts))
        for article, rows in rows_by_article.items():
            dense[:, SIMILARITY] += self._similarities(text_matrix, rows, article)
        sentence_matrix = self._tfidf(sentence_rows, columns, len(owners))
        return FeatureBatch(text_matrix, sentence_matrix, np.array(owners, dtype=np.int64),
                            sentence_texts, dense)

    def _flags_of(self, words: list[str]) -> list[int]:
        """Lexicon bitmasks of the words that are in any lexicon (cached per distinct word)."""
        get = self._flags.get
        flags = [get(word) for word in words]
        if None in flags:
            flags = [self._flag(word) if flag is None else flag for flag, word in zip(flags, words)]
        return [flag for flag in flags if flag]

    def _flag(self, word: str) -> int:
        """The lexicon bitmask of one word, computed and cached."""
        flag = sum(bit for bit, name in LEXICON_BITS if word in self._lexicons[name])
        flag |= SECOND_PERSON_BIT if word in SECOND_PERSON else 0
        if len(self._flags) < FLAG_CACHE_SIZE:
            self._flags[word] = flag
        return flag

    def _tfidf(self, rows: list[int], columns: list[int], n_rows: int) -> sp.csr_matrix:
        """Sublinear TF-IDF rows, L2-normalised, built directly in CSR form."""
        keys = np.asarray(rows, dtype=np.int64) * self.n_text_features + np.asarray(columns, dtype=np.int64)
        keys, counts = np.unique(keys, return_counts=True)
        row_of_value, indices = np.divmod(keys, self.n_text_features)
        data = (1.0 + np.log(counts)) * self.idf_[indices]
        norms = np.sqrt(np.bincount(row_of_value, weights=data ** 2, minlength=n_rows))
        data /= norms[row_of_value]
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_of_value, minlength=n_rows), out=indptr[1:])
        return sp.csr_matrix((data, indices, indptr), shape=(n_rows, self.n_text_features))

    def _similarities(self, text_matrix: sp.csr_matrix, rows: list[int], article: str) -> np.ndarray:
        """Cosine similarity of the given rows with an article (zero for the other rows)."""
        article_columns, article_values = self._article_features(article)[0]
        n_rows = text_matrix.shape[0]
        similarities = np.zeros(n_rows)
        if not len(article_columns):
            return similarities
        owner = np.repeat(np.arange(n_rows), np.diff(text_matrix.indptr))
        selected = np.zeros(n_rows, dtype=bool)
        selected[rows] = True
        values_selected = selected[owner]
        columns = text_matrix.indices[values_selected]
        position = np.minimum(np.searchsorted(article_columns, columns), len(article_columns) - 1)
        products = np.where(article_columns[position] == columns,
                            text_matrix.data[values_selected] * article_values[position], 0.0)
        return np.bincount(owner[values_selected], weights=products, minlength=n_rows)

    def _article_features(self, article: str) -> tuple[tuple[np.ndarray, np.ndarray], frozenset[str]]:
        """An article's TF-IDF vector (sorted columns, values) and word set, cached by its text."""
        cached = self._articles.get(article)
        if cached is not None:
            self._articles.move_to_end(article)
            return cached
        grams = _grams_of(normalise(article))
        ids = [i for i in map(self.vocabulary_.get, grams) if i is not None]
        vector = self._tfidf([0] * len(ids), ids, 1)
        entry = ((vector.indices, vector.data), frozenset(grams))
        self._articles[article] = entry
        if len(self._articles) > ARTICLE_CACHE_SIZE:
            self._articles.popitem(last=False)
        return entry

    def _dense(self, text: str, normalised: str, tokens: list[str], grams: list[str], flags: list[int],
               max_insults: int, article: str | None) -> list[float]:
        """The dense cues of one comment (``flags``: its words' lexicon bitmasks), similarity to the
        article filled in later."""
        counts = dict.fromkeys((INSULT, PROFANITY, DEHUMANISING, VIOLENCE, SECOND_PERSON_BIT), 0)
        for flag in flags:
            for bit in counts:
                counts[bit] += bool(flag & bit)
        places = self._places.intersection(grams)
        has_article, overlap, absent_subjects, absent_places = 0.0, 0.0, 0.0, 0.0
        if article:
            article_words = self._article_features(article)[1]
            has_article = 1.0
            content = [t for t in tokens if t not in STOPWORDS and len(t) > 2]
            subjects = {w.lower() for w in CAPITALISED.findall(text)} - STOPWORDS
            overlap = sum(t in article_words for t in content) / len(content) if content else 0.0
            absent_subjects = math.log1p(len(subjects - article_words))
            absent_places = math.log1p(sum(p not in article_words for p in places))
        n_tokens = len(tokens)
        n_letters = len(text) - len(text.translate(ASCII_LETTERS))
        n_upper = len(text) - len(text.translate(ASCII_UPPER))
        return [
            has_article, 0.0, overlap, absent_subjects, absent_places,
            math.log1p(len(places)), math.log1p(len(DEFLECTION_CUES.intersection(grams))),
            math.log1p(counts[INSULT]), math.log1p(counts[PROFANITY]),
            math.log1p(counts[DEHUMANISING]), math.log1p(counts[VIOLENCE]), math.log1p(max_insults),
            counts[SECOND_PERSON_BIT] / n_tokens if n_tokens else 0.0,
            math.log1p(n_tokens), n_upper / n_letters if n_letters else 0.0,
            math.log1p(text.count("!")), math.log1p(text.count("?")),
        ]


def _grams_of(normalised: str) -> list[str]:
    """Unigrams and within-sentence bigrams of a normalised text."""
    return [gram for words in sentence_words(normalised) for gram in ngrams_of(words)]


def ngrams_of(words: list[str]) -> list[str]:
    """The words of one sentence followed by its bigrams."""
    return words + list(map(" ".join, zip(words, words[1:])))
