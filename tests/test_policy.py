"""The decision policy's thresholds: refused when they cannot mean what an operator wrote."""

from __future__ import annotations

import pytest

from model.errors import ConfigError
from model.policy import DecisionPolicy


@pytest.mark.parametrize("name", ["reject_abusive", "review_abusive", "reject_whataboutism",
                                  "review_whataboutism", "min_confidence"])
@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_threshold(name: str, value: bool) -> None:
    """``"reject_whataboutism": false`` in a card, meant as "off", was read as 0: every comment rejected."""
    with pytest.raises(ConfigError, match=rf"policy threshold {name} must be a number in \[0, 1.01\], got {value}"):
        DecisionPolicy(**{name: value})


@pytest.mark.parametrize("category", ["abusive", "whataboutism"])
def test_a_review_threshold_above_its_reject_threshold_is_refused(category: str) -> None:
    """Its review rule could never fire: every comment above the reject threshold is rejected first."""
    with pytest.raises(ConfigError, match=rf"review_{category} \(0.9\) must not exceed reject_{category} \(0.6\)"):
        DecisionPolicy(**{f"review_{category}": 0.9, f"reject_{category}": 0.6})


def test_reasons_match_the_decision() -> None:
    policy = DecisionPolicy(reject_whataboutism=0.9)
    assert policy.decide({"substantive": 0.05, "whataboutism": 0.05, "abusive": 0.9}) == (
        "reject", ["abusive_above_reject_threshold"])
    assert policy.decide({"substantive": 0.0, "whataboutism": 0.95, "abusive": 0.05}) == (
        "reject", ["whataboutism_above_reject_threshold"])
    assert policy.decide({"substantive": 0.1, "whataboutism": 0.5, "abusive": 0.4}) == (
        "review", ["abusive_above_review_threshold", "whataboutism_above_review_threshold"])
    assert policy.decide({"substantive": 0.25, "whataboutism": 0.3, "abusive": 0.45}) == (
        "review", ["abusive_above_review_threshold", "low_confidence"])
    assert policy.decide({"substantive": 0.9, "whataboutism": 0.05, "abusive": 0.05}) == ("approve", ["substantive"])


def test_a_flood_is_held_for_review_unless_rejected() -> None:
    policy = DecisionPolicy()
    civil = {"substantive": 0.9, "whataboutism": 0.05, "abusive": 0.05}
    assert policy.decide(civil, flood=True) == ("review", ["repeated_words"])
    assert policy.decide({"substantive": 0.05, "whataboutism": 0.05, "abusive": 0.9}, flood=True) == (
        "reject", ["abusive_above_reject_threshold"])
