"""Lexicon audit: the frequent words of many languages that a lexicon prefix or whole word counts.

Run: python benchmarks/lexicon_audit.py [--top N] [--word-top N] [--lexicon NAME ...] [--language CODE ...]
Needs the `wordfreq` package (pip install wordfreq; about 60 MB, so it is no extra of this project).
For every lexicon with prefix entries (``retard*``), prints per language the words among its ``--top``
most frequent that a prefix counts and no whole-word entry names: each is an inflection or
misspelling the prefix is there for ("retardz"), or a word it matches by accident ("retardant",
Spanish "retardo"), which a ``!`` line of the lexicon file should take back. Then, for every
lexicon, prints per language other than English the whole-word entries among that language's
``--word-top`` most frequent words that are not already its homographs (``model/languages.py``):
each is the same insult there ("idiot"), or a word with another meaning ("rot", German for red; "dago",
an Indonesian word), which should become a homograph of that language or leave the lexicon. Run it
after editing a lexicon; the README says how the shipped lists were made.
"""

from __future__ import annotations

import argparse
import sys

from model.languages import HOMOGRAPHS
from model.text import Lexicon

LEXICONS = ("insults", "profanity", "dehumanising", "violence")
# English and the labelled set's other languages, and neighbours whose words commenters use.
LANGUAGES = ("en", "de", "nl", "fr", "es", "it", "pt", "pl", "ru", "uk", "tr", "ar", "hi", "id", "ms", "sv")


def prefix_matches(lexicon: Lexicon, words: list[str], language: str) -> list[str]:
    """The words a prefix of ``lexicon`` counts that no whole-word entry names, in the given order."""
    return [word for word in words if word not in lexicon.words and word in lexicon]


def whole_word_matches(lexicon: Lexicon, words: list[str], language: str) -> list[str]:
    """The whole-word entries of ``lexicon`` among ``words`` (in their order) that are not yet
    homographs of ``language``."""
    homographs = HOMOGRAPHS.get(language, frozenset())
    return [word for word in words if word in lexicon.words and word not in homographs]


def _word_list(top_n_list, language: str, n: int) -> list[str] | str:
    """wordfreq's ``n`` most frequent words of ``language``, or why it has none."""
    try:
        return top_n_list(language, n)
    except (LookupError, ValueError) as error:
        return f"no word list ({error})"


def _print_matches(word_lists: dict[str, list[str] | str], top: int, lexicon: Lexicon, matches_of) -> None:
    """Per language, the matches ``matches_of(lexicon, words, language)`` finds among its ``top`` most
    frequent words."""
    for language, words in word_lists.items():
        if isinstance(words, str):
            print(f"  {language}: {words}")
            continue
        matches = matches_of(lexicon, words[:top], language)
        if matches:
            print(f"  {language} ({len(matches)}): {' '.join(matches)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=80_000, help="how many frequent words per language")
    parser.add_argument("--word-top", type=int, default=20_000,
                        help="how many frequent words per language the whole-word entries are checked against")
    parser.add_argument("--lexicon", action="append", choices=LEXICONS, help="default: all four")
    parser.add_argument("--language", action="append", help=f"wordfreq language code (default: {' '.join(LANGUAGES)})")
    args = parser.parse_args()
    try:
        from wordfreq import top_n_list
    except ImportError:
        print("lexicon_audit: needs the wordfreq package: pip install wordfreq", file=sys.stderr)
        return 2
    word_lists = {language: _word_list(top_n_list, language, max(args.top, args.word_top))
                  for language in args.language or LANGUAGES}
    for name in args.lexicon or LEXICONS:
        lexicon = Lexicon(name)
        if lexicon.prefixes:
            print(f"== {name}: prefixes {' '.join(p + '*' for p in lexicon.prefixes)}")
            _print_matches(word_lists, args.top, lexicon, prefix_matches)
    for name in args.lexicon or LEXICONS:
        lexicon = Lexicon(name)
        print(f"== {name}: whole words among the {args.word_top:,} most frequent words of another language")
        others = {language: words for language, words in word_lists.items() if language != "en"}
        _print_matches(others, args.word_top, lexicon, whole_word_matches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
