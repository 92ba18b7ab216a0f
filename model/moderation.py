"""Moderating comments with a loaded model: scores, stance, decision, reasons and explanation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from model.classifier import CommentClassifier, Predictions, round_positive
from model.cues import FeatureBatch, run_starts
from model.labels import CATEGORIES, STANCES
from model.policy import DecisionPolicy

# A flood: a comment of at least FLOOD_WORDS words, at most FLOOD_DISTINCT_SHARE of them distinct ("idiot
# idiot idiot …"). Its scores are past anything the model was trained on (repeating one insult a few
# hundred times read as substantive), so the policy holds it for review whatever they say.
FLOOD_WORDS = 100
FLOOD_DISTINCT_SHARE = 0.2


@dataclass(frozen=True)
class CommentInput:
    """A comment to moderate, with its article's text (title and body) when known."""

    text: str
    article: str | None = None
    id: str | int | None = None


@dataclass
class ModerationResult:
    """Everything the model says about one comment."""

    id: str | int | None
    category: str
    scores: dict[str, float]
    stance: str | None
    stance_scores: dict[str, float] | None
    decision: str
    reasons: list[str]
    explanation: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return dict(self.__dict__)


class Moderator:
    """A trained classifier with its decision policy and version: the object serving uses."""

    def __init__(self, classifier: CommentClassifier, policy: DecisionPolicy, version: str) -> None:
        self.classifier = classifier
        self.policy = policy
        self.version = version

    def moderate(self, comments: Sequence[CommentInput], *, explain: bool = True,
                 top: int = 6) -> list[ModerationResult]:
        """Moderate a batch of comments; results are in input order."""
        if not comments:
            return []
        predictions = self.classifier.predict([c.text for c in comments],
                                              [c.article for c in comments])
        categories = predictions.category.argmax(axis=1)
        stances = predictions.stance.argmax(axis=1).tolist()
        has_stance = self.classifier.stance_trained_
        category_scores = _rounded(CATEGORIES, predictions.category)
        stance_scores = _rounded(STANCES, predictions.stance)
        explanations = None  # none asked for (explain off, or top 0: MODERATE_EXPLAIN_TOP=0): none computed
        if explain and top > 0:
            explanations = self.classifier.explain(predictions, categories, top, decimals=4)
        results = []
        flooded = floods(predictions).tolist()
        for row, comment in enumerate(comments):
            scores = category_scores[row]
            decision, reasons = self.policy.decide(scores, flooded[row])
            explanation = []
            if explanations is not None:
                explanation = [{"feature": name, "weight": weight} for name, weight in explanations[row]]
            results.append(ModerationResult(
                id=comment.id, category=CATEGORIES[categories[row]], scores=scores,
                stance=STANCES[stances[row]] if has_stance else None,
                stance_scores=stance_scores[row] if has_stance else None,
                decision=decision, reasons=reasons, explanation=explanation))
        return results

    def moderate_one(self, text: str, article: str | None = None, *, top: int = 6) -> ModerationResult:
        """Moderate a single comment (``top``: explanation entries, as ``moderate`` takes them)."""
        return self.moderate([CommentInput(text, article)], top=top)[0]


def floods(predictions: Predictions) -> np.ndarray:
    """Per comment, whether it is a flood (see ``FLOOD_WORDS``): only comments that long are looked at."""
    batch = predictions.batch
    n_comments = len(predictions.category)
    words = np.bincount(batch.sentence_owner, weights=batch.sentence_lengths, minlength=n_comments)
    long = words >= FLOOD_WORDS
    flooded = np.zeros(n_comments, dtype=bool)
    if long.any():
        flooded[long] = _distinct_words(batch, long)[long] <= FLOOD_DISTINCT_SHARE * words[long]
    return flooded


def _distinct_words(batch: FeatureBatch, chosen: np.ndarray) -> np.ndarray:
    """Per comment, how many distinct words it holds (counted for the ``chosen`` comments only): by
    word id in one sort when the batch has its words' ids, else by the sentences' tokens."""
    terms = batch.spelling_terms
    if terms is not None:
        kept = chosen[terms.comments]
        span = int(terms.ids.max(initial=0)) + 1
        pairs = np.sort(terms.comments[kept].astype(np.int64) * span + terms.ids[kept])  # np.unique: ten times slower
        return np.bincount(pairs[run_starts(pairs)] // span, minlength=len(chosen))
    counts = np.zeros(len(chosen), dtype=np.int64)
    owners = batch.sentence_owner  # non-decreasing: a comment's sentences are a range
    for comment in np.flatnonzero(chosen).tolist():
        first, end = np.searchsorted(owners, [comment, comment + 1]).tolist()
        distinct = set()
        for start, length in zip(batch.sentence_starts[first:end].tolist(), batch.sentence_lengths[first:end].tolist()):
            distinct.update(batch.tokens[start:start + length])
        counts[comment] = len(distinct)
    return counts


def _rounded(labels: Sequence[str], probabilities: np.ndarray) -> list[dict[str, float]]:
    """Per row, the label-to-probability mapping rounded to 6 places (still summing to 1 within 1e-5),
    rounded as the batch labeller rounds them (one row in Python, as numpy rounds)."""
    if len(probabilities) == 1:
        return [dict(zip(labels, [round_positive(p, 6) for p in probabilities[0].tolist()]))]
    return [dict(zip(labels, row)) for row in probabilities.round(6).tolist()]
