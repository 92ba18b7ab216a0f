"""The label sets: comment categories, stances and moderation decisions."""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = ("substantive", "whataboutism", "abusive")
STANCES: tuple[str, ...] = ("supports", "disputes", "neutral")
DECISIONS: tuple[str, ...] = ("approve", "review", "reject")
