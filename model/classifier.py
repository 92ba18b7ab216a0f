"""The comment classifier: linear heads over sparse features, temperature-calibrated, explainable."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize, minimize_scalar
from scipy.special import log_softmax
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from model.characters import CHARACTER_PREFIX, CharacterScorer, CharacterTerms, CharacterVocabulary
from model.cues import STOPWORDS, run_lengths, run_starts
from model.factored import FactoredRows, fit_multinomial
from model.features import DENSE_FEATURES, CommentFeaturizer, FeatureBatch
from model.features_one_by_one import SentenceRows
from model.labels import CATEGORIES, STANCES
from model.spelling import SPELLING_PREFIX, SpellingTerms

T = TypeVar("T")  # what a fit run by side_by_side returns

# Parameters and fitted attributes added after models were shipped, with the values under which an
# older model scores as it did.
ADDED_SINCE = {"C_characters": 0.0, "spelling": True, "characters_": None, "sentence_min_share": 0.0,
               "sentence_neutral_": None, "clauses": False}
SENTENCE_FEATURE = "[most abusive sentence]"
MILD_SENTENCE = "[its worst sentence is mild]"  # the same feature, named for when it counts against abuse
DENSE_NAMES = [f"[{name}]" for name in DENSE_FEATURES] + [SENTENCE_FEATURE]
# Newton-CG's tolerances for the heads. The fits on folds only give out-of-fold logits for fitting a
# temperature, so 1e-3 does (the F1 of 1e-4 in two thirds of the time). The final fit gives the
# weights: at 1e-3 it stopped far enough from the optimum that another CPU's rounding (AVX2 against
# AVX-512) moved them by 2.7% and a borderline sentence by 0.05; at 1e-4, by 0.2-0.7% and no check.
FOLD_TOLERANCE = 1e-3
HEAD_TOLERANCE = 1e-4
MAX_ITERATIONS = 2000
# How an explanation names a dense cue whose value is below the training mean (the cue then counts
# for the comment by its absence: "[question marks]" for a comment without any would mislead).
ABSENT_NAMES = {"has article": "[no article given]", "addresses the reader (you)": "[does not address the reader]"}


@dataclass
class Predictions:
    """Calibrated probabilities for a batch, with what the explanation needs."""

    category: np.ndarray
    stance: np.ndarray
    text: sp.csr_matrix
    dense: np.ndarray
    batch: FeatureBatch
    worst_index: np.ndarray

    def worst_sentence(self, row: int) -> str | None:
        """The most abusive sentence of comment ``row`` (None when it has no words)."""
        index = self.worst_index[row]
        return self.batch.sentence_text(index) if index >= 0 else None


@dataclass
class Fitted:
    """A fitted logistic regression's classes and parameters."""

    classes_: np.ndarray
    coef_: np.ndarray
    intercept_: np.ndarray


class LinearHead(BaseEstimator):
    """Multinomial logistic regression whose logits are divided by a fitted temperature."""

    def __init__(self, C: float = 4.0, n_folds: int = 5, random_state: int = 0) -> None:
        self.C = C
        self.n_folds = n_folds
        self.random_state = random_state

    def _new_model(self, tolerance: float) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=MAX_ITERATIONS, solver="newton-cg",
                                  tol=tolerance, random_state=self.random_state)

    def _fitted(self, X: sp.csr_matrix | FactoredRows, y: np.ndarray, tolerance: float) -> Fitted:
        """The logistic regression fitted on these rows; factored rows of three or more classes are
        fitted as they are (their products are the fit's cost), others as one sparse matrix."""
        if isinstance(X, FactoredRows):
            if len(np.unique(y)) > 2:
                return Fitted(*fit_multinomial(X, y, self.C, tolerance, MAX_ITERATIONS))
            X = X.matrix()
        model = self._new_model(tolerance).fit(X, y)
        return Fitted(model.classes_, model.coef_, model.intercept_)

    def fit(self, X: sp.csr_matrix | FactoredRows, y: np.ndarray, groups: np.ndarray, n_classes: int,
            column_scale: np.ndarray | None = None) -> "LinearHead":
        """Fit the model (on columns multiplied by ``column_scale`` when given, the scale then folded
        into the coefficients); fit the temperature on grouped out-of-fold logits."""
        if column_scale is not None:
            X = X.scaled(column_scale) if isinstance(X, FactoredRows) else X @ sp.diags(column_scale, format="csr")
        out_of_fold = np.zeros((X.shape[0], n_classes))
        splits = list(GroupKFold(n_splits=self.n_folds).split(X, y, groups))

        def fold_logits(train: np.ndarray, test: np.ndarray) -> np.ndarray:
            return _full_logits(self._fitted(X[train], y[train], FOLD_TOLERANCE), X[test], n_classes)

        *folds, model = side_by_side([partial(fold_logits, train, test) for train, test in splits]
                                     + [partial(self._fitted, X, y, HEAD_TOLERANCE)])
        for (_, test), logits in zip(splits, folds):
            out_of_fold[test] = logits
        self.out_of_fold_ = out_of_fold  # kept for blending with another head; not saved
        self.coef_, self.intercept_ = _full_parameters(model, n_classes)
        if column_scale is not None:
            self.coef_ = self.coef_ * column_scale
        self.set_temperature(_fit_temperature(out_of_fold, y))
        return self

    def set_temperature(self, temperature: float) -> None:
        """Divide the head's logits by ``temperature`` from now on."""
        self.temperature_ = temperature
        # Column-major copies for fast scoring and explanation (logits divided by temperature).
        self.scaled_coef_t_ = np.ascontiguousarray(self.coef_.T) / self.temperature_
        self.centred_coef_ = (self.coef_ - self.coef_.mean(axis=0)) / self.temperature_

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("out_of_fold_", None)
        return state

    def fit_uniform(self, n_features: int, n_classes: int) -> "LinearHead":
        """A head with no evidence: equal probabilities for every class (no labels to learn from)."""
        self.coef_, self.intercept_ = np.zeros((n_classes, n_features)), np.zeros(n_classes)
        self.set_temperature(1.0)
        return self

    def split_off(self, start: int, stop: int) -> np.ndarray:
        """Remove columns ``start:stop`` from the head; return their weights (columns × classes,
        divided by the temperature), for the featurizer to apply word by word."""
        removed = self.coef_[:, start:stop].T / self.temperature_
        self.coef_ = np.delete(self.coef_, np.s_[start:stop], axis=1)
        self.set_temperature(self.temperature_)
        return removed


def _is_content_word(word: str) -> bool:
    """Whether a word can carry a sentence's meaning: not a function word, nor a lone Latin letter
    (the "u" and "s" of "U.S.", the "r" of "u r", initials)."""
    return word not in STOPWORDS and not (len(word) == 1 and word.isascii())


def class_document_counts(X: sp.csr_matrix, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per class (rows) and column, how many documents of that class hold the column."""
    present = (X != 0).astype(np.float64)
    one_hot = sp.csr_matrix((np.ones(len(y)), (y, np.arange(len(y)))), shape=(n_classes, len(y)))
    return np.asarray((one_hot @ present).todense())


def evidence_scale(X: sp.csr_matrix, y: np.ndarray, n_classes: int, power: float) -> np.ndarray:
    """Per column, the largest |log-count ratio| of one class against the rest (NB-weighted
    logistic regression, Wang and Manning 2012), raised to ``power`` and scaled to mean 1: n-grams
    that tell the classes apart are penalised less by the regulariser."""
    per_class = class_document_counts(X, y, n_classes)
    everywhere = per_class.sum(axis=0)
    ratios = np.zeros(X.shape[1])
    for in_class in per_class:
        inside, outside = 1.0 + in_class, 1.0 + (everywhere - in_class)
        ratio = np.abs(np.log(inside / inside.sum()) - np.log(outside / outside.sum()))
        np.maximum(ratios, ratio, out=ratios)
    scale = ratios ** power
    return scale / scale.mean() if scale.mean() > 0 else np.ones(X.shape[1])


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (scipy's, without its per-call overhead)."""
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def _softmax_heads(logits: np.ndarray, n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    """Softmax of the category head's logits (the first ``n_categories`` columns) and of the stance
    head's (the rest); a single row in Python, with numpy's operations in numpy's order."""
    if len(logits) == 1:
        row = logits[0].tolist()
        categories, stances = row[:n_categories], row[n_categories:]
        top_category, top_stance = max(categories), max(stances)
        shifted = [value - top_category for value in categories] + [value - top_stance for value in stances]
        exponentials = np.exp(shifted).tolist()  # numpy's exp, which may be SIMD code, not the C library's
        return (np.array([_normalised(exponentials[:n_categories])]),
                np.array([_normalised(exponentials[n_categories:])]))
    return _softmax(logits[:, :n_categories]), _softmax(logits[:, n_categories:])


def _normalised(exponentials: list[float]) -> list[float]:
    """``exponentials`` over their sum, bit for bit as numpy divides by its sum of a few (in order)."""
    total = 0.0
    for exponential in exponentials:
        total += exponential
    return [exponential / total for exponential in exponentials]


def _full_parameters(model: Fitted, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients for every class, even when the training fold lacked one."""
    coef = np.zeros((n_classes, model.coef_.shape[1]))
    intercept = np.full(n_classes, -30.0)
    if len(model.classes_) == 2 and model.coef_.shape[0] == 1:
        coef[model.classes_[1]], intercept[model.classes_[1]] = model.coef_[0], model.intercept_[0]
        intercept[model.classes_[0]] = 0.0
    else:
        coef[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_
    return coef, intercept


def side_by_side(fits: list[Callable[[], T]]) -> list[T]:
    """Run independent fits on threads, one per core, and return their results in order: scipy's
    sparse products, where the fits spend their time, release the GIL. Each fit is what it would be
    alone, so the model is the same to the last bit."""
    workers = min(len(fits), len(os.sched_getaffinity(0)))
    if workers <= 1:
        return [fit() for fit in fits]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda fit: fit(), fits))


def _full_logits(model: Fitted, X: sp.csr_matrix | FactoredRows, n_classes: int) -> np.ndarray:
    coef, intercept = _full_parameters(model, n_classes)
    return np.asarray(X @ coef.T) + intercept


def _fit_blend(first: np.ndarray, second: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Non-negative weights of two heads' out-of-fold logits minimising the negative log-likelihood
    of their weighted sum (a temperature for each, fitted together)."""
    rows = np.arange(len(y))

    def loss(weights: np.ndarray) -> float:
        scaled = log_softmax(weights[0] * first + weights[1] * second, axis=1)
        return -float(scaled[rows, y].mean())
    start = np.array([0.5 / _fit_temperature(first, y), 0.5 / _fit_temperature(second, y)])
    result = minimize(loss, start, method="L-BFGS-B", bounds=[(0.0, 20.0), (0.0, 20.0)])
    return float(result.x[0]), float(result.x[1])


def _fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of out-of-fold logits."""
    def loss(log_temperature: float) -> float:
        scaled = log_softmax(logits / np.exp(log_temperature), axis=1)
        return -float(scaled[np.arange(len(y)), y].mean())
    result = minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(result.x))


class CommentClassifier(BaseEstimator):
    """Category (substantive / whataboutism / abusive) and stance of comments, given their article."""

    def __init__(self, C_category: float = 4.0, C_stance: float = 2.0, C_sentence: float = 4.0,
                 min_df: int = 2, dense_weight: float = 1.0, evidence_power: float = 0.5,
                 C_characters: float = 0.0, spelling: bool = True, sentence_min_share: float = 0.0,
                 clauses: bool = False, n_folds: int = 5, random_state: int = 0) -> None:
        self.C_category = C_category
        self.C_characters = C_characters
        self.spelling = spelling
        self.sentence_min_share = sentence_min_share
        self.clauses = clauses
        self.C_stance = C_stance
        self.C_sentence = C_sentence
        self.min_df = min_df
        self.dense_weight = dense_weight
        self.evidence_power = evidence_power
        self.n_folds = n_folds
        self.random_state = random_state

    def fit(self, texts: list[str], articles: list[str | None], categories: list[str],
            stances: list[str | None], groups: list[str], plain_senses: list[bool] | None = None
            ) -> "CommentClassifier":
        """Fit on comments with their article text; each is also seen without its article.
        ``plain_senses`` marks comments using an insult's word in its plain meaning (a pig on a farm):
        they train every head but do not count when the sentence scorer's columns are chosen."""
        self.__dict__.pop("_joint", None)
        originals = list(texts)
        source = np.r_[np.arange(len(texts)), [i for i, article in enumerate(articles) if article]].astype(int)
        counted = ~np.asarray(plain_senses if plain_senses is not None else [False] * len(originals), dtype=bool)
        texts, articles, categories, stances, groups = _with_articleless_copies(
            texts, articles, categories, stances, groups)
        self.featurizer_ = CommentFeaturizer(min_df=self.min_df, clauses=self.clauses).fit(texts)
        batch = self.featurizer_.transform(texts, articles)
        y_category = np.array([CATEGORIES.index(c) for c in categories])
        group_ids = np.unique(np.array(groups), return_inverse=True)[1]
        is_abusive = (y_category == CATEGORIES.index("abusive")).astype(int)
        sentence_scores = self._fit_sentence_model(batch, is_abusive, group_ids, counted[source])
        dense = np.hstack([batch.dense, sentence_scores[:, None]])
        self.dense_mean_ = dense.mean(axis=0)
        self.dense_scale_ = dense.std(axis=0) + 1e-6
        self.sentence_neutral_ = float(self.dense_mean_[-1])  # standardised, exactly 0: no evidence
        if self.spelling:
            design = FactoredRows(batch.text, *self.featurizer_.spelling_factors(texts), self._scale(dense))
            words = design.words()
        else:
            design, words = self._design(batch.text, dense), batch.text
        scale = self._evidence_scale(words, y_category, design.shape[1])
        n_words = words.shape[1]
        del words  # the n-gram columns as one matrix: only the evidence scale reads them
        self.category_head_ = LinearHead(self.C_category, self.n_folds, self.random_state).fit(
            design, y_category, group_ids, len(CATEGORIES), scale)
        self.characters_ = None
        if self.C_characters:
            self.characters_ = self._fit_character_view(originals, source, y_category, group_ids)
        has_stance = np.array([s is not None for s in stances])
        y_stance = np.array([STANCES.index(s) if s else -1 for s in stances])
        self.stance_head_ = LinearHead(self.C_stance, self.n_folds, self.random_state)
        self.stance_trained_ = len(np.unique(group_ids[has_stance])) >= self.n_folds
        if self.stance_trained_:
            self.stance_head_.fit(design[has_stance], y_stance[has_stance], group_ids[has_stance], len(STANCES))
        else:
            self.stance_head_.fit_uniform(design.shape[1], len(STANCES))
        if self.spelling:
            spelling = np.s_[batch.text.shape[1]:n_words]
            self.featurizer_.set_spelling_weights(np.hstack([
                head.split_off(spelling.start, spelling.stop) for head in (self.category_head_, self.stance_head_)]))
        self.feature_names_ = self.featurizer_.feature_names_[:self.featurizer_.n_text_features] + DENSE_NAMES
        return self

    def _fit_character_view(self, texts: list[str], source: np.ndarray, y: np.ndarray, groups: np.ndarray
                            ) -> CharacterScorer | None:
        """Fit a head on the character view of the distinct comments (``source``: each training row's
        comment) and blend it into the category head by weights fitted on out-of-fold logits (None
        when the comments hold no n-gram of several comments)."""
        vocabulary = CharacterVocabulary().fit(texts)
        if not vocabulary.vocabulary_:
            return None
        n = len(texts)  # the training rows begin with the distinct comments, in order
        head = LinearHead(self.C_characters, self.n_folds, self.random_state).fit(
            vocabulary.comments_matrix(texts), y[:n], groups[:n], len(CATEGORIES))
        category = self.category_head_
        first, second = _fit_blend(category.out_of_fold_, head.out_of_fold_[source], y)
        self.blend_weights_ = (first, second)
        category.set_temperature(1.0 / max(first, 1e-9))
        del category.out_of_fold_
        return CharacterScorer(vocabulary, head.coef_.T * second, head.intercept_ * second)

    def _fit_sentence_model(self, batch: FeatureBatch, is_abusive: np.ndarray, groups: np.ndarray,
                            counted: np.ndarray) -> np.ndarray:
        """Fit the abuse scorer of single sentences; out-of-fold maxima for the training rows (a row
        whose sentences hold no word the scorer weighs gets the mean of the others, or 0 if none does)."""
        content = sp.diags(self._content_columns(batch.text.shape[1]).astype(float))
        text, sentences = batch.text @ content, batch.sentences @ content
        owners = batch.sentence_owner
        scores = np.zeros(len(is_abusive))
        splits = list(GroupKFold(n_splits=self.n_folds).split(batch.text, is_abusive, groups))
        fit = partial(self._fit_sentence_scorer, text, sentences, owners, is_abusive)
        *folds, whole = side_by_side([partial(fit, train, counted) for train, _ in splits]
                                     + [partial(fit, np.arange(len(is_abusive)), counted)])
        for (_, test), (coef, intercept) in zip(splits, folds):
            scores[test] = _worst_weighed(batch.sentences, owners, len(scores), coef, intercept)[0][test]
        self.sentence_coef_, self.sentence_intercept_ = whole
        unweighed = np.isneginf(scores)
        scores[unweighed] = scores[~unweighed].mean() if not unweighed.all() else 0.0
        return scores

    def _fit_sentence_scorer(self, text: sp.csr_matrix, sentences: sp.csr_matrix, owners: np.ndarray,
                             is_abusive: np.ndarray, rows: np.ndarray, counted: np.ndarray
                             ) -> tuple[np.ndarray, float]:
        """Multiple-instance fit: every sentence of a clean comment is a negative; of an abusive
        comment, only its most abusive sentence (by a whole-comment model) is a positive. The columns
        are chosen on the ``counted`` rows only (not on plain senses of insults' words)."""
        if self.sentence_min_share:
            chosen_on = rows[counted[rows]] if counted[rows].any() else rows  # every row tagged: count them all
            kept = sp.diags(self._sentence_columns(text[chosen_on], is_abusive[chosen_on]).astype(float))
            text, sentences = text @ kept, sentences @ kept
        whole = self._sentence_model().fit(text[rows], is_abusive[rows])
        initial = sentences @ whole.coef_[0]
        in_rows = np.zeros(len(is_abusive), dtype=bool)
        in_rows[rows] = True
        negatives = np.flatnonzero(in_rows[owners] & (is_abusive[owners] == 0))
        best_index = _max_by_owner(initial, owners, len(is_abusive))[1]
        positives = best_index[in_rows & (is_abusive == 1) & (best_index >= 0)]
        selected = np.concatenate([negatives, positives])
        labels = np.r_[np.zeros(len(negatives)), np.ones(len(positives))]
        model = self._sentence_model().fit(sentences[selected], labels)
        return model.coef_[0], float(model.intercept_[0])

    def _sentence_columns(self, text: sp.csr_matrix, is_abusive: np.ndarray) -> np.ndarray:
        """Which columns the sentence scorer may read: those whose comments are mostly abusive (a
        share of at least ``sentence_min_share``) or mostly clean (at most the share of abuse overall),
        smoothed toward that overall share. A word the labelled set uses in abuse about as often as
        not ("hope", "sink", "see how") cannot make a sentence abusive, since only a comment's worst
        sentence counts and such leans add up there; clean words still clear a sentence of a crude one."""
        clean, abusive = class_document_counts(text, is_abusive, 2)
        prior = is_abusive.mean()
        share = (abusive + 2 * prior) / (clean + abusive + 2)
        return (share >= self.sentence_min_share) | (share <= prior)

    def _evidence_scale(self, text: sp.csr_matrix, y: np.ndarray, n_columns: int) -> np.ndarray | None:
        """Scale of every design column for the category head: n-gram columns by ``evidence_scale``,
        dense columns left as they are (None when ``evidence_power`` is 0)."""
        if not self.evidence_power:
            return None
        scale = np.ones(n_columns)
        scale[:text.shape[1]] = evidence_scale(text, y, len(CATEGORIES), self.evidence_power)
        return scale

    def _content_columns(self, n_columns: int) -> np.ndarray:
        """Which n-gram columns hold a content word: a sentence is judged abusive by what it says,
        never by its function words alone ("is a", "are", "you"), which every sentence has."""
        names = self.featurizer_.feature_names_[:n_columns]
        return np.array([any(_is_content_word(word) for word in name.split()) for name in names])

    def _sentence_model(self) -> LogisticRegression:
        return LogisticRegression(C=self.C_sentence, class_weight="balanced", max_iter=2000,
                                  solver="newton-cg")

    def _scale(self, dense: np.ndarray) -> np.ndarray:
        """Standardised, weighted dense cues."""
        return (dense - self.dense_mean_) / self.dense_scale_ * self.dense_weight

    def _design(self, text: sp.csr_matrix, dense: np.ndarray) -> sp.csr_matrix:
        """Sparse n-grams beside standardised dense cues (the training matrix)."""
        return sp.hstack([text, sp.csr_matrix(self._scale(dense))], format="csr")

    def predict(self, texts: list[str], articles: list[str | None]) -> Predictions:
        """Calibrated category and stance probabilities for a batch."""
        batch = self.featurizer_.transform(texts, articles)
        if isinstance(batch.sentence_rows, SentenceRows) and len(texts) == 1:  # a few numbers: in Python
            worst, index = self._worst_of_one(batch.sentence_rows)
            unscaled, worst_index = np.array([[*batch.dense[0].tolist(), worst]]), np.array([index])
        else:
            worst_scores, worst_index = self._worst_sentences(batch.sentences, batch.sentence_owner, len(texts))
            unscaled = np.hstack([batch.dense, worst_scores[:, None]])
        dense = self._scale(unscaled)
        coef_t, intercept = self._joint_parameters()
        n_text, n_categories = batch.text.shape[1], len(CATEGORIES)
        logits = batch.text @ coef_t[:n_text] + dense @ coef_t[n_text:] + intercept
        if batch.spelling is not None:
            logits += batch.spelling
        if self.characters_ is not None:
            character_logits, batch.character_terms = self.characters_.logits(texts)
            logits[:, :n_categories] += character_logits
        return Predictions(*_softmax_heads(logits, n_categories), batch.text, dense, batch, worst_index)

    def _worst_sentences(self, sentences: sp.csr_matrix, owners: np.ndarray, n_rows: int
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Per comment, its worst sentence's score and index. A sentence holding no word the scorer
        weighs (every word unknown, or one the scorer ignores) is no evidence: it is passed over, and
        a comment of such sentences only scores ``sentence_neutral_`` (index -1)."""
        if self.sentence_neutral_ is None:  # a model saved before the rule: every sentence counts
            return _max_by_owner(sentences @ self.sentence_coef_ + self.sentence_intercept_, owners, n_rows)
        worst, index = _worst_weighed(sentences, owners, n_rows, self.sentence_coef_, self.sentence_intercept_)
        unweighed = np.isneginf(worst)
        worst[unweighed], index[unweighed] = self.sentence_neutral_, -1
        return worst, index

    def _worst_of_one(self, rows: SentenceRows) -> tuple[float, int]:
        """``_worst_sentences`` of one comment, in Python."""
        coef = self._sentence_coef_list()
        scores = rows.scores(coef, self.sentence_intercept_)
        if self.sentence_neutral_ is None:
            return _last_maximum(scores)
        weighed = [any(coef[column] != 0.0 for column in columns) for columns, _ in rows.lists]
        worst, index = _last_maximum([score if w else -np.inf for score, w in zip(scores, weighed)])
        return (self.sentence_neutral_, -1) if worst == -np.inf else (worst, index)

    def _sentence_coef_list(self) -> list[float]:
        """The sentence scorer's coefficients as a list, for scoring a few sentences in Python (built once)."""
        coef = self.__dict__.get("_sentence_coef")
        if coef is None:
            coef = self._sentence_coef = self.sentence_coef_.tolist()
        return coef

    def _joint_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """Both heads' coefficients side by side (category columns, then stance ones) and
        intercepts, temperature applied: one product scores both (built at the first prediction)."""
        joint = self.__dict__.get("_joint")
        if joint is None:
            heads = (self.category_head_, self.stance_head_)
            joint = self._joint = (np.hstack([head.scaled_coef_t_ for head in heads]),
                                   np.concatenate([head.intercept_ / head.temperature_ for head in heads]))
        return joint

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__ itself
        state.pop("_joint", None)  # derived from the heads: rebuilt after loading
        state.pop("_sentence_coef", None)  # derived from sentence_coef_, likewise
        return state

    def __setstate__(self, state: dict) -> None:
        """Restore a pickle; what was added since it was saved takes the value that changes nothing."""
        super().__setstate__({**ADDED_SINCE, **state})

    def _sentence_feature_name(self, predictions: Predictions, row: int) -> str:
        """The sentence feature's name in an explanation, with the comment's worst sentence: "most
        abusive" when that sentence scores above the usual, "mild" when it scores below (then it is
        evidence against abuse, and calling it abusive would mislead a moderator)."""
        name = SENTENCE_FEATURE if predictions.dense[row, -1] > 0 else MILD_SENTENCE
        sentence = predictions.worst_sentence(row)
        return f"{name} {sentence}" if sentence else name

    def explain(self, predictions: Predictions, labels: np.ndarray, top: int = 6,
                decimals: int | None = None) -> list[list[tuple[str, float]]]:
        """For each comment, the features that pushed it toward its category in ``labels`` most, with
        their weights (largest first; ties in column order; rounded to ``decimals`` when given),
        computed for the whole batch at once."""
        if predictions.text.shape[0] == 1:
            return [self._explain_one(predictions, int(labels[0]), top, decimals)]
        text, dense = predictions.text, predictions.dense
        n, n_text = text.shape[0], text.shape[1]
        centred, labels = self.category_head_.centred_coef_, np.asarray(labels)
        text_rows = np.repeat(np.arange(n), np.diff(text.indptr))
        rows = np.concatenate([text_rows, np.repeat(np.arange(n), dense.shape[1])])
        columns = np.concatenate([text.indices, np.tile(n_text + np.arange(dense.shape[1]), n)])
        dense_weights = dense * centred[labels, n_text:]
        weights = np.concatenate([text.data * centred[labels[text_rows], text.indices], dense_weights.ravel()])
        terms, characters = predictions.batch.spelling_terms, predictions.batch.character_terms
        spelt_rows, spelt_weights, spelt_positions = _token_weights(terms, labels)
        character_rows, character_weights, character_positions = _token_weights(characters, labels)
        first_spelt, first_character = len(self.feature_names_), len(self.feature_names_) + len(spelt_rows)
        rows = np.concatenate([rows, spelt_rows, character_rows])
        columns = np.concatenate([columns, first_spelt + np.arange(len(spelt_rows) + len(character_rows))])
        weights = np.concatenate([weights, spelt_weights, character_weights])
        positive = np.flatnonzero((weights > 0) & (weights >= _rank_floor(dense_weights, top)[rows]))
        chosen = positive[_top_per_row(rows[positive], weights[positive], top)]
        chosen_weights = weights[chosen] if decimals is None else weights[chosen].round(decimals)
        named: list[list[tuple[str, float]]] = [[] for _ in range(n)]
        names, dense_rows = self.feature_names_, dense.tolist()
        for row, column, weight in zip(rows[chosen].tolist(), columns[chosen].tolist(), chosen_weights.tolist()):
            if column < n_text:  # an n-gram: its name
                named[row].append((names[column], weight))
                continue
            if column >= first_character:
                named[row].append((CHARACTER_PREFIX + characters.token(character_positions[column - first_character]),
                                   weight))
                continue
            if column >= first_spelt:
                named[row].append((SPELLING_PREFIX + terms.token(spelt_positions[column - first_spelt]), weight))
                continue
            named[row].append((self._column_name(predictions, row, column, dense_rows[row]), weight))
        return named

    def _column_name(self, predictions: Predictions, row: int, column: int, dense_row: list[float] | None = None
                     ) -> str:
        """How an explanation names design column ``column`` (an n-gram or a dense cue) of comment ``row``
        (``dense_row``: that comment's dense cues as a list, if the caller has it)."""
        name = self.feature_names_[column]
        if name == SENTENCE_FEATURE:
            return self._sentence_feature_name(predictions, row)
        cue = column - predictions.text.shape[1]
        if cue < 0:
            return name
        value = float(predictions.dense[row, cue]) if dense_row is None else dense_row[cue]
        return self._below_usual_name(cue, value) if value < 0 else name

    def _explain_one(self, predictions: Predictions, label: int, top: int, decimals: int | None
                     ) -> list[tuple[str, float]]:
        """``explain`` of a batch of one comment: the same features, weights and order, with the
        candidates in lists, since for one comment the batch path's array passes cost more."""
        text, dense = predictions.text, predictions.dense
        centred = self.category_head_.centred_coef_[label]
        n_text = text.shape[1]
        weights = (text.data * centred[text.indices]).tolist() + (dense[0] * centred[n_text:]).tolist()
        columns = text.indices.tolist() + list(range(n_text, n_text + dense.shape[1]))  # design columns
        token_views = []  # per view with tokens: (its first candidate, terms, prefix, token positions)
        for terms, prefix in ((predictions.batch.spelling_terms, SPELLING_PREFIX),
                              (predictions.batch.character_terms, CHARACTER_PREFIX)):
            positions, token_weights = _token_weights_of_one(terms, label)
            token_views.insert(0, (len(weights), terms, prefix, positions))  # the last view first
            weights += token_weights
        ranked = sorted(range(len(weights)), key=weights.__getitem__, reverse=True)  # stable: ties in order
        named = []
        for i in [i for i in ranked[:top] if weights[i] > 0]:
            if i < len(columns):
                name = self._column_name(predictions, 0, columns[i])
            else:
                first, terms, prefix, positions = next(view for view in token_views if view[0] <= i)
                name = prefix + terms.token(positions[i - first])
            named.append((name, weights[i] if decimals is None else round_positive(weights[i], decimals)))
        return named

    def _below_usual_name(self, cue: int, scaled: float) -> str:
        """The name of dense cue ``cue`` where its value is below the training mean: "[no question
        marks]" where the comment has none, "[question marks: below usual]" otherwise."""
        name = DENSE_FEATURES[cue]
        raw = scaled / self.dense_weight * self.dense_scale_[cue] + self.dense_mean_[cue]
        if abs(raw) > 1e-9:
            return f"[{name}: below usual]"
        return ABSENT_NAMES.get(name, f"[no {name}]")


def _rank_floor(weights: np.ndarray, top: int) -> np.ndarray:
    """Per row of ``weights`` (comments by dense cues), its ``top``-th largest weight (-inf when it
    has fewer cues): a comment has at least ``top`` weights that large, so no weight below it is
    among its ``top`` largest, and the ranking can leave it out."""
    if not 1 <= top <= weights.shape[1]:
        return np.full(len(weights), -np.inf)
    return -np.partition(-weights, top - 1, axis=1)[:, top - 1]


def _top_per_row(rows: np.ndarray, weights: np.ndarray, top: int) -> np.ndarray:
    """Positions of each row's ``top`` largest weights, by row, then weight, largest first (ties in
    position order): ``np.lexsort``'s order from two stable sorts, by weight, then by row as 16-bit
    integers (a radix sort), which together take two thirds of its time."""
    order = np.argsort(-weights, kind="stable")
    row_type = np.int16 if len(rows) and int(rows.max()) < 1 << 15 else np.int64
    order = order[np.argsort(rows[order].astype(row_type), kind="stable")]
    ordered_rows = rows[order]
    rank = np.arange(len(order)) - np.searchsorted(ordered_rows, ordered_rows)
    return order[rank < top]


def _token_weights(terms: SpellingTerms | CharacterTerms | None, labels: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per comment and distinct token (word or character-view token), how much it pushed the comment
    toward its label (centred over the categories, as the heads' weights are), with the position of
    its first occurrence in ``terms``."""
    if terms is None or not len(terms.comments):
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64)
    shares = terms.rows[:, :len(CATEGORIES)]
    picked = shares[np.arange(len(shares)), labels[terms.comments]]
    centred = picked - np.add.reduce(shares, axis=1) / len(CATEGORIES)
    per_token = centred / np.maximum(terms.norms, 1e-12)[terms.comments]
    keys = terms.comments << 32 | terms.ids
    order = np.argsort(keys, kind="stable")
    starts = run_starts(keys[order])
    return terms.comments[order[starts]], np.add.reduceat(per_token[order], starts), order[starts]


def _token_weights_of_one(terms: SpellingTerms | CharacterTerms | None, label: int) -> tuple[list[int], list[float]]:
    """``_token_weights`` of a batch of one comment: each distinct token's first position, and its
    weight, in the order of token ids."""
    if terms is None or not len(terms.comments):
        return [], []
    shares = terms.rows[:, :len(CATEGORIES)]
    centred = shares[:, label] - np.add.reduce(shares, axis=1) / len(CATEGORIES)
    per_token = (centred / max(float(terms.norms[0]), 1e-12)).tolist()
    ids = terms.ids.tolist()
    first = dict(zip(reversed(ids), range(len(ids) - 1, -1, -1)))  # the earliest position wins
    totals = dict.fromkeys(first, 0.0)
    for token_id, weight in zip(ids, per_token):  # a repeated token's weights summed in order
        totals[token_id] += weight
    distinct = sorted(first)
    return list(map(first.__getitem__, distinct)), list(map(totals.__getitem__, distinct))


def round_positive(weight: float, decimals: int) -> float:
    """``np.round(weight, decimals)`` of a weight or probability (not negative), bit for bit: numpy
    scales, rounds half to even and scales back (Python's ``round(weight, decimals)`` rounds the
    decimal value instead)."""
    scale = 10.0 ** decimals
    return round(weight * scale) / scale


def _last_maximum(values: list[float]) -> tuple[float, int]:
    """The maximum of ``values`` and the index of its last occurrence (-10.0 and -1 when empty), as
    ``_max_by_owner`` gives them for one row."""
    if not values:
        return -10.0, -1
    maximum = max(values)
    return maximum, len(values) - 1 - values[::-1].index(maximum)


def _worst_weighed(sentences: sp.csr_matrix, owners: np.ndarray, n_rows: int, coef: np.ndarray,
                   intercept: float) -> tuple[np.ndarray, np.ndarray]:
    """``_max_by_owner`` of the sentences' scores over those holding a word with a weight in ``coef``
    (-inf and the last sentence's index for a row with none; -10.0 and -1 for a row without sentences)."""
    scores = sentences @ coef + intercept
    weighed = (sentences != 0).astype(np.float64) @ (coef != 0).astype(np.float64)
    scores[weighed == 0] = -np.inf
    return _max_by_owner(scores, owners, n_rows)


def _max_by_owner(values: np.ndarray, owners: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the maximum of its sentences' values and that sentence's index (the last of equal
    maxima; -1 when the row has no sentence). ``owners`` is non-decreasing, as featurizers give it."""
    best = np.full(n_rows, -10.0)
    best_index = np.full(n_rows, -1, dtype=np.int64)
    if len(values):
        starts = run_starts(owners)
        maxima = np.maximum.reduceat(values, starts)
        best[owners[starts]] = maxima
        hits = np.flatnonzero(values == np.repeat(maxima, run_lengths(starts, len(values))))
        last = np.ones(len(hits), dtype=bool)
        np.not_equal(owners[hits[1:]], owners[hits[:-1]], out=last[:-1])
        best_index[owners[hits[last]]] = hits[last]
    return best, best_index


def _with_articleless_copies(texts, articles, categories, stances, groups):
    """Append a copy of every comment that has an article, without it."""
    extra = [i for i, article in enumerate(articles) if article]
    pick = lambda values: list(values) + [values[i] for i in extra]  # noqa: E731
    return (pick(texts), list(articles) + [None] * len(extra), pick(categories), pick(stances),
            pick(groups))
