"""Normalisation and de-obfuscation."""

from __future__ import annotations

import pytest

from model.text import deobfuscate_token, normalise, sentence_words


@pytest.mark.parametrize("raw, expected", [
    ("f*ck", "fuck"), ("f**k", "fuck"), ("sh1t", "shit"), ("id10t", "idiot"), ("a$$hole", "asshole"),
    ("b!tch", "bitch"), ("2014", "2014"), ("1990s", "1990s"),
])
def test_deobfuscate_token(raw: str, expected: str) -> None:
    assert deobfuscate_token(raw) == expected


def test_normalise_keeps_numbers_and_trailing_punctuation_apart() -> None:
    assert sentence_words(normalise("WOW!! In 2014 the UN said so. You id10t!")) == [
        ["wow"], ["in", "the", "un", "said", "so"], ["you", "idiot"]]


def test_normalise_removes_control_characters_but_keeps_scripts() -> None:
    text = normalise("abc\x00def سلام 한국 e\u0301")
    assert "\x00" not in text and "سلام" in text and "한국" in text


def test_sentence_words() -> None:
    assert sentence_words(normalise("One. Two!\nThree? four… five")) == [
        ["one"], ["two"], ["three"], ["four"], ["five"]]
