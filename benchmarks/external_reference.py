"""What the external sets' own labels allow: a bag-of-words model cross-validated on each set itself.

Run: python benchmarks/external_reference.py [--folds 5] [--seeds 3]
For whataboutism-twitter, reddit-worse-problems and davidson, fits a word (1-2) and character (2-5)
TF-IDF logistic regression on four fifths of a set's own rows and scores the fifth left out (stratified
5-fold, several shuffles), and prints its AUC beside the shipped model's on the same rows, with the
cues it leans on most. It is a reference for reading `quality.py`'s external rows: how far a
lightweight model gets when it may learn the set's own topics and labelling. The fitted models are
thrown away; nothing here is saved, and the shipped model never sees these sets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline, make_union

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import davidson, reddit_worse_problems, whataboutism_twitter
from quality import probabilities

from model.artifact import DEFAULT_MODEL_DIR, load_model
from model.labels import CATEGORIES


def reddit_without_titles() -> tuple[list[str], list[int]]:
    """reddit-worse-problems' comments and labels (the reference reads no post title)."""
    texts, _, labels = reddit_worse_problems()
    return texts, labels


SETS = {  # name: (rows, the category whose probability is scored)
    "whataboutism-twitter": (whataboutism_twitter, "whataboutism"),
    "reddit-worse-problems": (reddit_without_titles, "whataboutism"),
    "davidson": (davidson, "abusive"),
}


def word_grams() -> TfidfVectorizer:
    """Word 1- and 2-grams in at least two rows, TF-IDF with sublinear counts."""
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)


def balanced_regression() -> LogisticRegression:
    """The reference's classifier: logistic regression with classes weighted to balance."""
    return LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")


def reference_model() -> object:
    """Word 1-2-grams and character 2-5-grams, TF-IDF, into a balanced logistic regression."""
    return make_pipeline(
        make_union(word_grams(), TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)),
        balanced_regression())


def strongest_cues(texts: list[str], labels: np.ndarray, n: int = 15) -> list[str]:
    """The word n-grams a word-only reference model fitted on all rows weighs most toward label 1."""
    vectoriser = word_grams()
    model = balanced_regression().fit(vectoriser.fit_transform(texts), labels)
    names = vectoriser.get_feature_names_out()
    return [names[i] for i in np.argsort(model.coef_[0])[::-1][:n]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3, help="shuffles of the folds to average over")
    args = parser.parse_args()
    moderator, card = load_model(DEFAULT_MODEL_DIR)
    print(f"shipped model {card['model_version']}; reference: TF-IDF logistic regression, "
          f"{args.folds}-fold cross-validation on each set's own labels, {args.seeds} shuffles")
    for name, (rows, category) in SETS.items():
        texts, labels = rows()
        labels = np.asarray(labels)
        ours = roc_auc_score(labels, probabilities(moderator, texts)[:, CATEGORIES.index(category)])
        aucs = [roc_auc_score(labels, cross_val_predict(
            reference_model(), texts, labels, method="predict_proba",
            cv=StratifiedKFold(args.folds, shuffle=True, random_state=seed))[:, 1]) for seed in range(args.seeds)]
        print(f"{name:<22} n={len(texts):>6}  AUC P({category}): shipped model {ours:.3f} (no article), "
              f"reference on its own labels {np.mean(aucs):.3f} (shuffles {min(aucs):.3f}-{max(aucs):.3f})")
        print(f"  the reference's strongest cues: {', '.join(strongest_cues(texts, labels))}")


if __name__ == "__main__":
    main()
