"""Fixed phrases that hold a crude word and insult nobody ("Pussy Riot", "guinea pig", "honky tonk";
``model/lexicons/phrases.txt``). Where one stands, its crude word is read as a word of its own,
qualified like a homograph ("phrase:pussy"), so that neither the lexicons nor the word's n-grams,
stem or spelling count it."""

from __future__ import annotations

from functools import cache

from model.text import QUALIFIER, Lexicon, qualified, read_lexicon

PHRASE = "phrase"  # the qualifier of a crude word inside a fixed phrase
CRUDE_LEXICONS = ("insults", "profanity", "dehumanising", "violence")


def phrase_word(word: str) -> str:
    """The form of a crude word inside a fixed phrase: "phrase:pussy"."""
    return qualified(word, PHRASE)


def is_phrase_word(word: str) -> bool:
    """Whether a word is a crude word read as part of a fixed phrase."""
    return word.startswith(PHRASE + QUALIFIER)


@cache
def phrase_marks() -> dict[tuple[str, str], tuple[bool, bool]]:
    """Each fixed phrase's pair of words, with which of the two are crude (counted by a lexicon)."""
    lexicons = [Lexicon(name) for name in CRUDE_LEXICONS]
    pairs = [tuple(entry.split(" ")) for entry in sorted(read_lexicon("phrases"))]
    return {pair: tuple(any(word in lexicon for lexicon in lexicons) for word in pair) for pair in pairs}


@cache
def phrase_parts() -> frozenset[str]:
    """Every word of every fixed phrase: a sentence holding none of them holds no phrase."""
    return frozenset(word for pair in phrase_marks() for word in pair)


def mark_phrases(sentences: list[list[str]]) -> list[list[str]]:
    """A comment's sentences with the crude words of fixed phrases qualified ("pussy riot" →
    "phrase:pussy riot"); a word is marked when either phrase it may be part of stands."""
    parts, marks = phrase_parts(), phrase_marks()
    marked = []
    for words in sentences:
        if parts.isdisjoint(words):
            marked.append(words)
            continue
        crude = [False] * len(words)
        for i in range(len(words) - 1):
            first, second = marks.get((words[i], words[i + 1]), (False, False))
            crude[i] |= first
            crude[i + 1] |= second
        marked.append([phrase_word(w) if c else w for w, c in zip(words, crude)])
    return marked
