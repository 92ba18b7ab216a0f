"""Swapping lexicon insults the training data lacks into the comments of insults it has (training.augment)."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest
from conftest import seed_data

from model.errors import ConfigError
from model.text import Lexicon, normalise, sentence_words
from training.augment import lexicon_blocks, swap_unseen_insults
from training.config import TrainingConfig, resolve_config


def _record(text: str, category: str, group: str = "a1") -> dict:
    return {"text": text, "article": None, "category": category, "stance": None, "group": group}


ABUSIVE = [_record(text, "abusive") for text in (
    "You are a moron.", "Only a moron writes this.", "MORON. Total moron.", "Shut up, moron.",
    "What a moron, honestly.", "Morons like you ruin every thread.", "Morons, all of them.",
    "Typical morons.", "Go away, morons.", "Morons everywhere.")]
CIVIL = [_record(text, "substantive") for text in (
    "Calling him a moron is not an argument.", "The clowns at the fair were the best part.",
    "A clown visited the children's ward.", "Clowns, jugglers and a brass band.",
    "The circus clown retired after forty years.", "Send in the clowns, the band played.")]
ENGLISH = lexicon_blocks()[0]  # words and pairs of words ("camel jockey")
ENGLISH_WORDS = {word for entry in ENGLISH for word in entry.split(" ")}


def _entries(text: str) -> set[str]:
    """The words and the pairs of words of a text's sentences, as the model reads them."""
    sentences = sentence_words(normalise(text))
    return {w for s in sentences for w in s} | {" ".join(pair) for s in sentences for pair in pairwise(s)}


def test_lexicon_blocks_are_the_files_runs_of_whole_words() -> None:
    blocks = lexicon_blocks()
    assert ENGLISH[:2] == ["idiot", "idiots"] and "nigger" in ENGLISH
    assert len(blocks) >= 5 and any("pendejo" in block for block in blocks[1:])
    assert not any(word.endswith("*") or word.startswith("!") for block in blocks for word in block)


def test_comments_of_an_insult_lend_it_to_words_the_data_lacks() -> None:
    swap = swap_unseen_insults(ABUSIVE + CIVIL, share=1.0, min_df=3, seed=0)
    assert [r["category"] for r in swap.records] == [r["category"] for r in ABUSIVE + CIVIL]
    assert swap.records[len(ABUSIVE) + 1:] == CIVIL[1:]  # civil comments without the insult are unchanged
    assert swap.comments == len(ABUSIVE) + 1 and swap.taught
    held = Counter(word for r in ABUSIVE + CIVIL for s in sentence_words(normalise(r["text"])) for word in set(s))
    # the abusive comments, and the civil one that mentions the insult, so the swapped-in words learn both
    for before, after in zip(ABUSIVE + CIVIL[:1], swap.records):
        assert "moron" not in after["text"].lower()  # "moron" and "morons": their comments are abusive
        assert after["text"] != before["text"] and after["article"] == before["article"]
        new_words = {w for s in sentence_words(normalise(after["text"])) for w in s} - set(held)
        assert new_words and all(word in ENGLISH_WORDS and held[word] < 3 for word in new_words), new_words
    plural = swap.records[5]["text"].removesuffix(" like you ruin every thread.")  # "Morons", swapped
    assert plural.lower() in ENGLISH and plural.endswith("s") and plural[0].isupper()  # by a plural, capitalised


def test_the_words_the_data_lacks_are_swapped_in_by_turns() -> None:
    """Each word (or pair of words) the data lacks is swapped into about as many comments as the
    others: drawn at random, some fell under min_df and got no column of their own."""
    swap = swap_unseen_insults(ABUSIVE * 96, share=1.0, min_df=3, seed=0)  # two turns of every word
    uses = Counter(entry for r in swap.records for entry in _entries(r["text"]))
    in_pairs = {word for entry in ENGLISH if " " in entry for word in entry.split(" ")}  # "nig" of "nig nog"
    entries = [entry for entry in ENGLISH if entry not in in_pairs | {"moron", "morons"}]
    singulars = [uses[entry] for entry in entries if not entry.endswith("s")]
    plurals = [uses[entry] for entry in entries if entry.endswith("s")]
    assert min(singulars) >= 2 and max(singulars) - min(singulars) <= 1
    assert min(plurals) >= 2 and max(plurals) - min(plurals) <= 1


def test_a_word_the_data_uses_civilly_is_never_swapped_out() -> None:
    records = CIVIL + [_record("Shut up, clown.", "abusive"), _record("Clowns, the lot of you.", "abusive")]
    swap = swap_unseen_insults(ABUSIVE + records, share=1.0, min_df=3, seed=0)
    assert swap.records[-2:] == records[-2:]  # "clown" and "clowns": most of their comments are civil


def test_comments_using_an_insults_word_in_its_plain_meaning_neither_count_nor_lend_it() -> None:
    """Civil comments tagged literal_sense ("the circus clown") do not stop "clown" being swapped out
    of the abusive ones, and are never changed themselves: a slur swapped in would be taught civil."""
    abusive = [_record(text, "abusive") for text in (
        "Shut up, clown.", "What a clown you are.", "Only a clown writes this.", "Clown. Total clown.",
        "You absolute clown.")]
    literal = [{**record, "hard_case": "literal_sense"} for record in CIVIL[1:]]
    swap = swap_unseen_insults(abusive + literal, share=1.0, min_df=3, seed=0)
    assert swap.records[len(abusive):] == literal
    assert all("clown" not in record["text"].lower() for record in swap.records[:len(abusive)])
    untagged = swap_unseen_insults(abusive + CIVIL[1:], share=1.0, min_df=3, seed=0)
    assert untagged.records == abusive + CIVIL[1:]  # the same comments untagged: "clown" mostly civil


def test_adjectives_said_of_things_too_are_never_swapped_in() -> None:
    """"The vetting rule is moronic." is blunt criticism: an adjective swapped into abusive comments
    would be learnt as abuse (a tried model read that sentence 0.98 abusive)."""
    words = {word for block in lexicon_blocks() for word in block}
    assert not words & {"moronic", "idiotic", "stupid", "dumb", "retarded", "bitchy"}
    assert "moronic" in Lexicon("insults")  # still counted as an insult word


def test_share_and_seed_decide_which_comments_change() -> None:
    many = [r for r in ABUSIVE if "morons" not in r["text"].lower()] * 40  # singular insults only
    assert swap_unseen_insults(many, share=0.0, min_df=3, seed=0).records is many
    half = swap_unseen_insults(many, share=0.5, min_df=3, seed=0)
    assert 0.3 * len(many) < half.comments < 0.7 * len(many)
    assert half.records == swap_unseen_insults(many, share=0.5, min_df=3, seed=0).records
    assert half.records != swap_unseen_insults(many, share=0.5, min_df=3, seed=1).records


def test_every_comment_of_a_plural_insult_is_swapped_whatever_the_share() -> None:
    """Plural insults are rarer than singular ones for about as many words to teach: at the share, many
    plural slurs landed in fewer than min_df comments and got no column ("Thanks for the link, wops.")."""
    many = ABUSIVE * 20
    swap = swap_unseen_insults(many, share=0.05, min_df=3, seed=0)
    changed = [before["text"] != after["text"] for before, after in zip(many, swap.records)]
    plural = ["morons" in r["text"].lower() for r in many]
    assert all(c for c, p in zip(changed, plural) if p)
    assert sum(c for c, p in zip(changed, plural) if not p) < 0.15 * plural.count(False)


@pytest.mark.parametrize("insult, swapped", [("Morons", True), ("Moron", False)])
def test_a_plural_insult_in_three_comments_is_swapped_out_a_singular_one_needs_five(insult: str, swapped: bool) -> None:
    records = [_record(f"{insult}, {ending}", "abusive") for ending in ("honestly.", "again.", "the lot.")]
    swap = swap_unseen_insults(records, share=1.0, min_df=3, seed=0)
    assert (swap.comments == 3) is swapped and (swap.records == records) is not swapped


def test_the_labelled_set_teaches_the_english_slurs_it_lacks() -> None:
    swap = swap_unseen_insults(seed_data().records, TrainingConfig().swap_insults, TrainingConfig().min_df, 0)
    assert swap.comments > 500
    assert {"nigger", "towelhead", "kike", "spic", "fag"} <= set(swap.taught)


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_swap_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ConfigError, match="swap_insults"):
        resolve_config(swap_insults=share)
