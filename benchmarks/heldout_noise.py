"""How far the held-out figure moves under a change of training data that targets nothing.

Run: python benchmarks/heldout_noise.py [--leave-out 1010] [--seeds 1 2]
For each seed, fits the default configuration (without cross-validation: about five minutes a seed
on two cores) on the shipped model's training comments less ``--leave-out`` of them drawn at random,
and prints its macro-F1 on the shipped model's held-out comments, the two errors that matter most and
the criticism check, beside the shipped model's own. A data round whose held-out change lies within
this spread has shown no effect on the held-out set.
"""

from __future__ import annotations

import argparse
import random

import numpy as np
from sklearn.metrics import f1_score

from model.artifact import DEFAULT_MODEL_DIR, load_model
from model.labels import CATEGORIES
from model.moderation import Moderator
from model.policy import DecisionPolicy
from training.config import TrainingConfig
from training.probes import criticism_sentences, scored_abusive
from training.sources import load_seed_data
from training.train import fit_classifier, held_out_articles


def summary(moderator: Moderator, test: list[dict]) -> str:
    """Held-out macro-F1, abusive comments missed, substantive ones read as abusive, criticism check."""
    predicted = moderator.classifier.predict([r["text"] for r in test], [r["article"] for r in test]).category
    predicted = predicted.argmax(axis=1)
    truth = np.array([CATEGORIES.index(r["category"]) for r in test])
    abusive, substantive = CATEGORIES.index("abusive"), CATEGORIES.index("substantive")
    sentences = criticism_sentences()
    return (f"macro-F1 {f1_score(truth, predicted, average='macro'):.4f}, "
            f"abusive missed {int(((truth == abusive) & (predicted != abusive)).sum())}, "
            f"substantive read as abusive {int(((truth == substantive) & (predicted == abusive)).sum())}, "
            f"criticism check {len(scored_abusive(moderator, sentences))}/{len(sentences)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leave-out", type=int, default=1010, help="training comments left out per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    shipped, card = load_model(DEFAULT_MODEL_DIR)
    held_out = held_out_articles(card, DEFAULT_MODEL_DIR) or set()
    records = load_seed_data().records
    test = [r for r in records if r["group"] in held_out]
    training = [r for r in records if r["group"] not in held_out]
    print(f"shipped model {card['model_version']}, {len(training)} training comments, "
          f"{len(test)} held out: {summary(shipped, test)}")
    for seed in args.seeds:
        left_out = set(random.Random(seed).sample(range(len(training)), args.leave_out))
        kept = [r for i, r in enumerate(training) if i not in left_out]
        model = Moderator(fit_classifier(kept, TrainingConfig(cv_folds=0)), DecisionPolicy(), f"seed-{seed}")
        print(f"less {args.leave_out} at random, seed {seed}: {summary(model, test)}", flush=True)


if __name__ == "__main__":
    main()
