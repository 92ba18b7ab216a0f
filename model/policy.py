"""The decision policy: approve, review or reject from calibrated category scores, with reasons."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from model.errors import ConfigError


@dataclass(frozen=True)
class DecisionPolicy:
    """Thresholds on calibrated probabilities; the first rule that fires decides.

    1. P(abusive) >= reject_abusive                      -> reject  (abusive_above_reject_threshold)
    2. P(whataboutism) >= reject_whataboutism            -> reject  (whataboutism_above_reject_threshold)
    3. P(abusive) >= review_abusive                      -> review  (abusive_above_review_threshold)
    4. P(whataboutism) >= review_whataboutism            -> review  (whataboutism_above_review_threshold)
    5. highest probability < min_confidence              -> review  (low_confidence)
    6. a flood: a few words repeated at length           -> review  (repeated_words)
    7. otherwise                                         -> approve (substantive)
    A threshold above 1 switches its rule off (whataboutism is never rejected outright by default).
    """

    reject_abusive: float = 0.80
    review_abusive: float = 0.35
    reject_whataboutism: float = 1.01
    review_whataboutism: float = 0.50
    min_confidence: float = 0.50

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            # a bool is an int to Python: "reject_whataboutism": false, meant as off, would reject everything
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.01:
                raise ConfigError(f"policy threshold {name} must be a number in [0, 1.01], got {value!r}")
        for category in ("abusive", "whataboutism"):  # else the review rule could never fire
            review, reject = getattr(self, f"review_{category}"), getattr(self, f"reject_{category}")
            if review > reject:
                raise ConfigError(f"review_{category} ({review}) must not exceed reject_{category} ({reject})")

    def decide(self, scores: dict[str, float], flood: bool = False) -> tuple[str, list[str]]:
        """The decision and the machine-readable reasons for it (``flood``: see ``model.moderation.floods``)."""
        abusive, whataboutism = scores["abusive"], scores["whataboutism"]
        if abusive >= self.reject_abusive:
            return "reject", ["abusive_above_reject_threshold"]
        if whataboutism >= self.reject_whataboutism:
            return "reject", ["whataboutism_above_reject_threshold"]
        reasons = []
        if abusive >= self.review_abusive:
            reasons.append("abusive_above_review_threshold")
        if whataboutism >= self.review_whataboutism:
            reasons.append("whataboutism_above_review_threshold")
        if max(scores.values()) < self.min_confidence:
            reasons.append("low_confidence")
        if flood:
            reasons.append("repeated_words")
        if reasons:
            return "review", reasons
        return "approve", ["substantive"]

    def decide_all(self, abusive: np.ndarray, whataboutism: np.ndarray, highest: np.ndarray,
                   flood: np.ndarray | None = None) -> list[str]:
        """The decision of each row of a batch, as ``decide`` makes it (``highest``: its top score)."""
        reject = (abusive >= self.reject_abusive) | (whataboutism >= self.reject_whataboutism)
        review = ((abusive >= self.review_abusive) | (whataboutism >= self.review_whataboutism)
                  | (highest < self.min_confidence))
        if flood is not None:
            review |= flood
        return np.where(reject, "reject", np.where(review, "review", "approve")).tolist()

    def to_dict(self) -> dict[str, float]:
        """Thresholds as a JSON-ready dict (written into the model card)."""
        return asdict(self)
