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
