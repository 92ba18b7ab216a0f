"""Lexicon insults the training data lacks, taught by swapping them into the comments of insults it has.

A slur no labelled comment uses ("nigger", "towelhead") gets no n-gram column and no weight of its
own, so a comment using it is judged by the insult count alone, which disagreement also moves. Before
a fit, a share of the comments holding an insult the data shows used as one ("moron", 109 of 109
comments abusive before the round of mentions) have that insult replaced by a word of the same
lexicon block that fewer than ``min_df`` comments hold. Most such comments are abusive; the civil
ones report or discuss the insult ("The court heard he called the officer a moron"), so the swapped-in
words learn both the uses and the mentions. The comments are changed in place, never copied, so their
other words count no more than before, and the comments under evaluation are never changed. Comments
tagged ``literal_sense`` (an insult's word in its plain meaning: a pig on a farm, a parasite in the
water) say nothing of how the word is used of people: they neither count toward its abusive share nor
lend it, since a slur swapped into "boil it, the parasite survives" would teach a slur civil.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from itertools import cycle

from model.text import lexicon_runs, nfkc, normalise, sentence_words

SWAPPED_LEXICON = "insults"
NOT_SWAPPED = "# Adjectives"  # a run of the lexicon under a comment starting so is never swapped
SOURCE_MIN_COMMENTS = 5  # an insult is swapped out only if this many comments hold it ...
PLURAL_SOURCE_MIN_COMMENTS = 3  # ... or this many for a plural, as plural insults are rarer ...
SOURCE_MIN_ABUSIVE_SHARE = 0.8  # ... and this share of them are abusive: the data shows it used as an insult
LITERAL_SENSE = "literal_sense"  # the hard_case tag of comments using an insult's word in its plain meaning


@dataclass
class InsultSwap:
    """Records with a share of their comments' insults swapped, and what was swapped."""

    records: list[dict]
    comments: int  # comments changed
    taught: list[str]  # lexicon words swapped in

    def summary(self) -> dict:
        """JSON-ready figures for the training report."""
        return {"comments": self.comments, "words_taught": len(self.taught)}


def lexicon_blocks(name: str = SWAPPED_LEXICON) -> list[list[str]]:
    """The runs of whole words of a lexicon file (``model.text.lexicon_runs``), one language or family
    of languages each, less the runs under a comment starting with ``NOT_SWAPPED``."""
    return [words for comments, words in lexicon_runs(name)
            if words and not any(line.startswith(NOT_SWAPPED) for line in comments)]


def swap_unseen_insults(records: list[dict], share: float, min_df: int, seed: int) -> InsultSwap:
    """Replace, in ``share`` of the comments holding an insult the data uses as one, that insult by a
    word of its lexicon block that fewer than ``min_df`` comments hold (plural by plural). Comments
    holding a plural one are all swapped: plural insults are rarer (in the labelled set, 618 comments
    against 2,175) for about as many targets, which at ``share`` landed in too few comments to get a
    column of their own."""
    if share <= 0:
        return InsultSwap(records, 0, [])
    words, held, held_of_people, abusive = _word_counts(records)
    rng = random.Random(seed)
    swaps = [_BlockSwap(block, held, held_of_people, abusive, min_df, rng) for block in lexicon_blocks()]
    swaps = [swap for swap in swaps if swap.sources and swap.targets]
    swapped, taught, out = 0, set(), []
    for record, comment_words in zip(records, words):
        block_swaps = [] if is_literal(record) else [swap for swap in swaps if comment_words & swap.sources]
        has_plural = any(comment_words & swap.plural_sources for swap in block_swaps)
        if not block_swaps or (rng.random() >= share and not has_plural):
            out.append(record)
            continue
        text, replaced = nfkc(record["text"]), 0
        for swap in block_swaps:
            text, count = swap.apply(text, taught)
            replaced += count
        swapped += replaced > 0
        out.append({**record, "text": text} if replaced else record)
    return InsultSwap(out, swapped, sorted(taught))


def insults_held_by_few(records: list[dict], min_df: int, block: int = 0) -> list[str]:
    """The words of a lexicon run (the first: English) that fewer than ``min_df`` of ``records`` hold:
    the words a fit on them swaps in."""
    held = _word_counts(records)[1]
    return [word for word in lexicon_blocks()[block] if held[word] < min_df]


def _word_counts(records: list[dict]) -> tuple[list[set[str]], Counter, Counter, Counter]:
    """Each record's distinct words as the model reads them, and per word the records that hold it,
    the records not tagged ``literal_sense`` that hold it, and the abusive records that hold it."""
    words = [{word for sentence in sentence_words(normalise(r["text"])) for word in sentence} for r in records]
    held, held_of_people, abusive = Counter(), Counter(), Counter()
    for comment_words, record in zip(words, records):
        held.update(comment_words)
        held_of_people.update(() if is_literal(record) else comment_words)
        abusive.update(comment_words if record["category"] == "abusive" else ())
    return words, held, held_of_people, abusive


def is_literal(record: dict) -> bool:
    """Whether a comment is tagged as using an insult's word in its plain meaning."""
    return record.get("hard_case") == LITERAL_SENSE


def _is_plural(word: str) -> bool:
    """Whether an insult reads as a plural ("morons"), so a plural replaces it."""
    return word.lower().endswith("s")


class _BlockSwap:
    """The insults of one lexicon block to swap out (``sources``) and in (``targets``)."""

    def __init__(self, block: list[str], held: Counter, held_of_people: Counter, abusive: Counter, min_df: int,
                 rng: random.Random) -> None:
        self.sources = {word for word in block if abusive[word] >= SOURCE_MIN_ABUSIVE_SHARE * held_of_people[word]
                        and held_of_people[word] >= (PLURAL_SOURCE_MIN_COMMENTS if _is_plural(word)
                                                     else SOURCE_MIN_COMMENTS)}
        self.plural_sources = {word for word in self.sources if _is_plural(word)}
        self.targets = [word for word in block if held[word] < min_df]
        plurals = [word for word in self.targets if _is_plural(word)] or self.targets
        singulars = [word for word in self.targets if not _is_plural(word)] or self.targets
        # Targets are taken in turn, from a shuffled order, so each is swapped into about as many
        # comments as the others: drawn at random, some fell under min_df and got no column.
        self.turns = {True: cycle(rng.sample(plurals, len(plurals))),  # keyed by _is_plural
                      False: cycle(rng.sample(singulars, len(singulars)))}
        alternatives = "|".join(map(re.escape, sorted(self.sources, key=len, reverse=True)))
        self.pattern = re.compile(rf"(?<![\w'])(?:{alternatives})(?![\w'])", re.IGNORECASE)

    def apply(self, text: str, taught: set[str]) -> tuple[str, int]:
        """``text`` with each of the block's source insults replaced by the next target in turn (a
        plural by a plural, when the block has plural targets; one target per form and comment),
        capitalised as the word it replaces; and how many words were replaced."""
        chosen: dict[bool, str] = {}

        def replace(match: re.Match) -> str:
            word = match.group(0)
            plural = _is_plural(word)
            if plural not in chosen:
                chosen[plural] = next(self.turns[plural])
            target = chosen[plural]
            taught.add(target)
            return target.capitalize() if word[:1].isupper() else target

        return self.pattern.subn(replace, text)
