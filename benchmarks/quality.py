"""Quality: held-out macro-F1 on the labelled set, and generalisation to real external sets.

Run: python benchmarks/quality.py [--model DIR] [--all-articles-cv]
Prints the AUC of P(whataboutism) on whataboutism-twitter and reddit-worse-problems, and of
P(abusive) on Davidson et al. (hate or offensive against neither), with alt-profanity-check's AUC
on the same Davidson rows beside ours. External sets are for evaluation only: never trained on.
Also prints how independent writers' civil comments and abusive ones (``benchmarks/probes``) are
scored: criticisms of authors and outlets with insulting versions, and everyday words that threats
also use ("hope", "little", "every one", "strike") in civil comments and in abusive ones, civil sentences
about peoples and faiths, and words that begin like a crude word or slur (names, places, other
languages' words: "Fukushima", "Cockburn", Spanish "retardo") beside crude insults in inflected forms,
short civil reactions ("Source?", "Meh.") and on-topic statements of the regime's crimes ("North Korea
has starved its own people for decades.") read as whataboutism beside deflections caught, civil comments
holding abbreviations and initials ("U.S.", "D.P.R.K.", "R. Kelly") and civil comments naming a leader
("Kim Yo Jong attended the Pyeongchang Olympics.") beside abusive ones.
Beside the held-out macro-F1, how the sentences of the held-out substantive comments read when each is
scored alone under its article, as a short comment would be.
Last, how the comments written for rounds 20, 24, 28, 31 and 32 of the labelled set, and kept out of it as
they gained nothing worth their cost (``benchmarks/evaluation``), are read: words abuse uses in their
literal sense, blunt criticism of an author, calls for harm to a people beside civil sentences about
them (round 20), everyday words the set held mostly inside abuse, in civil comments and in abusive
twins (round 24), and words the set uses almost only as insults or dehumanising comparisons, in
their literal, idiomatic or self-mocking senses (round 28), and abuse made of ordinary words (wishes
of harm at a person, harm wished on a people, insults of a people, one call for harm in a long civil
comment) beside civil twins, and civil comments with the ordinary words those use (round 31), and short
civil comments of everyday words (round 32); of a part without abusive comments, how many read as
whataboutism too.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import davidson, non_english_ids, reddit_worse_problems, whataboutism_twitter  # noqa: E402

from model.artifact import DEFAULT_MODEL_DIR, load_model  # noqa: E402
from model.labels import CATEGORIES  # noqa: E402
from training.augment import insults_held_by_few
from training.probes import friendly_frame_sentences, scored_abusive  # noqa: E402
from training.sources import load_seed_data


def probabilities(moderator, texts: list[str], articles: list[str | None] | None = None) -> np.ndarray:
    """Category probabilities for texts, in chunks."""
    articles = articles or [None] * len(texts)
    chunks = [moderator.classifier.predict(texts[i:i + 2000], articles[i:i + 2000]).category
              for i in range(0, len(texts), 2000)]
    return np.vstack(chunks)


def read_abusive(probabilities: np.ndarray) -> int:
    """How many rows have abusive as their most probable category."""
    return read_as(probabilities, "abusive")


def read_as(probabilities: np.ndarray, category: str) -> int:
    """How many rows have ``category`` as their most probable category."""
    return int((probabilities.argmax(axis=1) == CATEGORIES.index(category)).sum())


def whataboutism_probe_line(moderator, article: str, names: tuple[str, str], what: str) -> str:
    """How independent civil comments and deflections (``names``: their probe files) are read as
    whataboutism, alone and under the seed article that carries reader comments."""
    civil, deflections = (probe_texts(name) for name in names)
    counts = [f"{read_as(probabilities(moderator, civil, [a] * len(civil)), 'whataboutism')}/{len(civil)} and "
              f"{read_as(probabilities(moderator, deflections, [a] * len(deflections)), 'whataboutism')}"
              f"/{len(deflections)} {where}"
              for a, where in ((None, "alone"), (article, "under the seed article"))]
    return f"independent {what} probes (civil ones read as whataboutism, deflections caught): {'; '.join(counts)}"


WHATABOUTISM_PROBES = [  # (what they probe, (file of civil comments, file of deflections))
    ("short-reaction", ("reaction_civil", "reaction_whataboutism")),
    # statements of the seed topic's crimes and deflections in the same shapes, by a writer who saw no
    # file after 177b5c8f read "North Korea has starved its own people for decades." as whataboutism
    # (four lines came from its brief)
    ("on-topic", ("ontopic_civil", "ontopic_whataboutism")),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--all-articles-cv", action="store_true",
                        help="also run article-grouped 5-fold CV over every article (two seeds, ~1.5 min)")
    args = parser.parse_args()
    moderator, card = load_model(args.model)
    records = load_seed_data().records
    whataboutism, abusive = CATEGORIES.index("whataboutism"), CATEGORIES.index("abusive")
    print(f"model {card['model_version']}")
    print(f"held-out macro-F1 on the labelled set (article-grouped): "
          f"{card['metrics']['held_out_category_macro_f1']:.3f}  (target ≥ 0.90)")

    held_out = held_out_records(card, args.model, records)
    held_out_scores = probabilities(moderator, [r["text"] for r in held_out], [r["article"] for r in held_out])
    for name, f1, n in held_out_by_language(held_out, held_out_scores):
        print(f"  of which {name:<25} n={n:>5}  macro-F1 {f1:.3f}")
    alone = held_out_sentences_read_alone(moderator, held_out)
    print(f"  the sentences of its substantive comments, each read alone as a short comment under its "
          f"article: {read_abusive(alone)}/{len(alone)} read as abusive, {read_as(alone, 'whataboutism')} "
          "as whataboutism")
    print(reject_threshold_line(held_out, held_out_scores, alone))

    texts, labels = whataboutism_twitter()
    twitter = probabilities(moderator, texts)
    auc = roc_auc_score(labels, twitter[:, whataboutism])
    print(f"whataboutism-twitter  n={len(texts):>6}  AUC P(whataboutism) {auc:.3f}  (target ≥ 0.75)")

    texts, titles, labels = reddit_worse_problems()
    auc = roc_auc_score(labels, probabilities(moderator, texts, titles)[:, whataboutism])
    reddit = probabilities(moderator, texts)
    auc_bare = roc_auc_score(labels, reddit[:, whataboutism])
    print(f"reddit-worse-problems n={len(texts):>6}  AUC P(whataboutism) {auc:.3f} with post title as "
          f"article, {auc_bare:.3f} without  (target ≥ 0.75)")

    texts, labels = davidson()
    scores = probabilities(moderator, texts)
    ours = roc_auc_score(labels, scores[:, abusive])
    line = f"davidson              n={len(texts):>6}  AUC P(abusive) {ours:.3f}  (target ≥ 0.90)"
    try:
        from profanity_check import predict_prob
        peer = roc_auc_score(labels, predict_prob(texts))
        line += f"; alt-profanity-check {peer:.3f}"
    except ImportError:
        line += "; alt-profanity-check not installed (pip install -e '.[bench]')"
    print(line)
    neither = scores[np.array(labels) == 0]
    print(f"real comments read as abusive (a ceiling on false flags: some are abuse): whataboutism-twitter "
          f"{read_abusive(twitter)}/{len(twitter)}, reddit-worse-problems {read_abusive(reddit)}/{len(reddit)}, "
          f"davidson's 'neither' {read_abusive(neither)}/{len(neither)}")
    for kind, (civil_name, abusive_name), civil_kind in INDEPENDENT_PROBES:
        civil, abusive_texts = probe_texts(civil_name), probe_texts(abusive_name)
        print(f"independent {kind} probes: {len(scored_abusive(moderator, civil))}/{len(civil)} {civil_kind} "
              f"scored abusive, {len(scored_abusive(moderator, abusive_texts))}/{len(abusive_texts)} abusive ones caught")
    seed_article = next(r["article"] for r in records if r["source"] == "seed_comment")
    for what, names in WHATABOUTISM_PROBES:
        print(whataboutism_probe_line(moderator, seed_article, names, what))
    slurs = friendly_frame_sentences(insults_held_by_few(records, card["training_config"]["min_df"]))
    print(f"slurs the labelled set lacks, in a friendly frame (\"Thanks for the link, ...\"): "
          f"{len(scored_abusive(moderator, slurs))}/{len(slurs)} scored abusive")
    for line in kept_out_lines(moderator, records):
        print(line)
    if args.all_articles_cv:
        print(f"article-grouped 5-fold CV over all articles, seeds 0 and 1: {all_articles_cv(records):.4f}")


# (what they probe, (file of civil comments, file of abusive ones), what the civil ones are)
INDEPENDENT_PROBES = [
    ("criticism", ("criticism_civil", "criticism_insulting"), "civil criticisms of authors and outlets"),
    ("everyday-word", ("everyday_civil", "everyday_abusive"), "civil comments using words threats also use"),
    ("group", ("group_civil", "group_abusive"), "civil sentences about a people, faith or group"),
    ("lookalike-word", ("lookalike_civil", "lookalike_abusive"),
     "civil comments with words that begin like a crude word or slur (Fukushima, cocktail, Spanish retardo)"),
    ("slur", ("slur_civil", "slur_abusive"),
     "civil comments that report, discuss or quote a slur (court reports, a team's former name)"),
    ("second slur", ("slur2_civil", "slur2_abusive"),
     "civil comments that report, discuss or quote a slur (written after the first set grew the lexicon)"),
    ("third slur", ("slur3_civil", "slur3_abusive"),
     "civil comments that report, discuss or quote a slur (written before the lexicon gained the second set's misses)"),
    ("crude-word", ("crude_civil", "crude_abusive"),
     "civil comments naming a person, place, dish, breed or idiom with a crude word inside (Dick Van Dyke, Scunthorpe)"),
    ("second crude-word", ("crude2_civil", "crude2_abusive"),
     "civil comments naming a person, place, tool, bird or idiom with a crude word inside (written after 607e29ac)"),
    ("third crude-word", ("crude3_civil", "crude3_abusive"),
     ("civil comments with a crude word inside a name, place, dish, bird or tool, and British, Irish and "
      "Australian slang insults (written after the lexicon gained the first set's misses)")),
    ("fourth crude-word", ("crude4_civil", "crude4_abusive"),
     ("civil comments with a crude word inside a place, name, dish, bird, tool or another language, and slang "
      "insults of the English-speaking countries (written after the 47 insults added with round 23 were chosen)")),
    ("short-comment", ("short_civil", "short_abusive"),
     ("short civil comments with everyday words threats also use, and agencies or officials criticised "
      "(written after fa48abb1, before the twenty-third round was read)")),
    ("second criticism", ("criticism2_civil", "criticism2_abusive"),
     ("short civil criticisms of authors, outlets and institutions, at most 14 words (written while the "
      "twenty-fifth round was trained)")),
    ("calls-for-harm", ("harm_civil", "harm_abusive"),
     ("civil comments that report, condemn or discuss violence against peoples, groups and persons, or use "
      "its words literally (written while the twenty-sixth round was written, by a writer who saw no file)")),
    ("blunt-word", ("blunt_civil", "blunt_abusive"),
     ("civil comments, most of two or three sentences, blunt or crude about a thing (a ruling, an app, the "
      "refereeing) or using an insult's word harmlessly (written while the twenty-seventh round was written, "
      "by a writer who saw no file)")),
    ("abbreviation", ("abbreviation_civil", "abbreviation_abusive"),
     ("civil comments with dotted abbreviations, initials and titles (U.S., D.P.R.K., e.g., R. Kelly, Mr.), "
      "and abusive ones holding them too (written after 60cfa3de read \"The D.P.R.K. denies all of it.\" as "
      "abuse, by a writer who saw no file; four lines came from its brief)")),
    ("leader", ("leader_civil", "leader_abusive"),
     ("civil comments naming a political leader, 60 of them a Kim: news, damning facts, condemnation of "
      "conduct, and abusive ones aimed at leaders (written after 177b5c8f read \"Kim Jong Un had his own uncle "
      "executed.\" as abuse, by a writer who saw no file; five lines came from its brief)")),
    ("casual-register", ("casual_civil", "casual_abusive"),
     ("civil comments in the register of social-media replies, a fifth with profanity aimed at nobody "
      "(written after dea6d4b2 was chosen)")),
]


def probe_texts(name: str) -> list[str]:
    """The lines of ``benchmarks/probes/<name>.txt``: comments written by writers who saw neither the
    labelled set nor ``training.probes`` (see ``INDEPENDENT_PROBES``)."""
    path = Path(__file__).resolve().parent / "probes" / f"{name}.txt"
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


EVALUATION = Path(__file__).resolve().parent / "evaluation"
KEPT_OUT_ROUNDS = (20, 24, 28, 31, 32)  # rounds written for the labelled set and kept out of it (evaluation/README.md)


def kept_out_lines(moderator, records: list[dict]) -> list[str]:
    """How the comments of the rounds kept out of training (``KEPT_OUT_ROUNDS``, ``benchmarks/evaluation``)
    are scored, part by part, each under its article (``records``: the labelled set's)."""
    articles = {r["group"]: r["article"] for r in records}
    return [line for number in KEPT_OUT_ROUNDS for line in _round_lines(moderator, number, articles)]


def _round_lines(moderator, number: int, articles: dict[str, str]) -> list[str]:
    """One line per part of ``evaluation/round<number>.jsonl``: civil ones flagged, abusive ones caught."""
    path = EVALUATION / f"round{number}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    scores = probabilities(moderator, [r["text"] for r in rows], [articles[r["article_id"]] for r in rows])
    read = scores.argmax(axis=1)
    flagged, deflecting = read == CATEGORIES.index("abusive"), read == CATEGORIES.index("whataboutism")
    lines = []
    for part in dict.fromkeys(r["part"] for r in rows):
        civil = [i for i, r in enumerate(rows) if r["part"] == part and r["category"] != "abusive"]
        abusive = [i for i, r in enumerate(rows) if r["part"] == part and r["category"] == "abusive"]
        line = f"round-{number} comments, {part}: {int(flagged[civil].sum())}/{len(civil)} civil ones read as abusive"
        if abusive:
            line += f", {int(flagged[abusive].sum())}/{len(abusive)} abusive ones caught"
        else:
            line += f" and {int(deflecting[civil].sum())} as whataboutism"
        lines.append(line)
    return lines


def held_out_records(card: dict, model_dir: Path, records: list[dict]) -> list[dict]:
    """The labelled comments under the articles the model was evaluated on and not trained on."""
    from training.train import held_out_articles
    held_out = held_out_articles(card, model_dir) or set()
    return [r for r in records if r["group"] in held_out]


def held_out_by_language(records: list[dict], scores: np.ndarray) -> list[tuple[str, float, int]]:
    """Held-out macro-F1 of the labelled set's comments in English and of those tagged non_english."""
    from sklearn.metrics import f1_score
    foreign_ids = non_english_ids()
    predicted = scores.argmax(axis=1)
    parts = []
    for name, foreign in (("English", False), ("other languages (tagged)", True)):
        rows = [i for i, r in enumerate(records) if (r["id"] in foreign_ids) == foreign]
        truth = [CATEGORIES.index(records[i]["category"]) for i in rows]
        parts.append((name, f1_score(truth, predicted[rows], average="macro"), len(rows)))
    return parts


REJECT_THRESHOLDS = (0.80, 0.90, 0.96)  # README's "Decision policy" table


def reject_threshold_line(records: list[dict], scores: np.ndarray, alone: np.ndarray) -> str:
    """What ``reject_abusive`` costs: held-out civil and abusive comments, and civil sentences read
    alone, rejected at each threshold of ``REJECT_THRESHOLDS``."""
    abusive = CATEGORIES.index("abusive")
    truly = np.array([r["category"] == "abusive" for r in records])
    parts = [f"at {t:.2f} {int((scores[~truly, abusive] >= t).sum())} civil / "
             f"{int((scores[truly, abusive] >= t).sum())} abusive / {int((alone[:, abusive] >= t).sum())} sentences"
             for t in REJECT_THRESHOLDS]
    return (f"  rejected as abusive, by reject_abusive (of {int((~truly).sum())} civil, {int(truly.sum())} abusive, "
            f"{len(alone)} civil sentences alone): " + "; ".join(parts))


SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")  # the model's sentence ends, on the raw text


def held_out_sentences_read_alone(moderator, held_out: list[dict]) -> np.ndarray:
    """Category probabilities of the sentences (of three words or more) of the held-out substantive
    comments, each scored alone under its article: a reading of short civil comments, which a
    comment's other sentences cannot pull toward civil."""
    sentences, articles = [], []
    for record in held_out:
        if record["category"] == "substantive":
            for sentence in SENTENCE_END.split(record["text"]):
                if len(sentence.split()) >= 3:
                    sentences.append(sentence)
                    articles.append(record["article"])
    return probabilities(moderator, sentences, articles)


def all_articles_cv(records: list[dict]) -> float:
    """Mean macro-F1 of article-grouped 5-fold cross-validation over the whole labelled set: every
    comment scored by a model that never saw its article (a steadier estimate than one split)."""
    from training.config import TrainingConfig
    from training.train import cross_validate
    means = [cross_validate(records, TrainingConfig(seed=seed), lambda _: None)["category_macro_f1_mean"]
             for seed in (0, 1)]
    return float(np.mean(means))


if __name__ == "__main__":
    main()
