"""Training recipe: load labelled data, split by article, fit, evaluate, compare, write the artifact."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import signal
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from model.artifact import CARD_FILE, file_in_the_way, load_model, save_model
from model.classifier import CommentClassifier
from model.errors import ArtifactError, ConfigError, DataError
from model.labels import CATEGORIES, STANCES
from model.moderation import Moderator
from model.policy import DecisionPolicy
from training.augment import InsultSwap, is_literal, swap_unseen_insults
from training.config import TrainingConfig
from training.dataset import split_grouped
from training.metrics import classification_report
from training.probes import probe_checks

logger = logging.getLogger(__name__)
METRICS_FILE = "metrics.json"
REPORT_PLOT_FILE = "report.png"
Progress = Callable[[str], None]


@dataclass
class LabelledData:
    """Training records (text, article, category, stance, group) and where they came from."""

    records: list[dict]
    sources: list[dict] = field(default_factory=list)


@dataclass
class TrainingOutcome:
    """What a training run produced and whether it was promoted."""

    metrics: dict
    card: dict | None
    promoted: bool
    comparison: dict | None
    out_dir: Path
    seconds: float


def fit_classifier(records: list[dict], config: TrainingConfig) -> CommentClassifier:
    """Fit a classifier on records with keys text, article, category, stance, group, a share of
    their comments' insults swapped for lexicon insults they lack (``swap_insults``)."""
    return fit_swapped(swapped_insults(records, config).records, config)


def swapped_insults(records: list[dict], config: TrainingConfig) -> InsultSwap:
    """The records as the fit sees them (``training.augment``)."""
    return swap_unseen_insults(records, config.swap_insults, config.min_df, config.seed)


def fit_swapped(records: list[dict], config: TrainingConfig) -> CommentClassifier:
    """Fit a classifier on records whose insults were already swapped."""
    classifier = CommentClassifier(C_category=config.C_category, C_stance=config.C_stance,
                                   C_sentence=config.C_sentence, min_df=config.min_df,
                                   dense_weight=config.dense_weight, evidence_power=config.evidence_power,
                                   C_characters=config.C_characters, spelling=config.spelling,
                                   sentence_min_share=config.sentence_min_share, clauses=config.clauses,
                                   n_folds=config.n_folds,
                                   random_state=config.seed)
    try:
        return classifier.fit([r["text"] for r in records], [r["article"] for r in records],
                              [r["category"] for r in records], [r["stance"] for r in records],
                              [r["group"] for r in records], [is_literal(r) for r in records])
    except ValueError as error:
        if "0 feature(s)" not in str(error):
            raise
        raise ConfigError(f"min_df = {config.min_df} leaves no word or character n-gram to learn from in "
                          f"{len(records)} comments: lower min_df with --config") from None


def evaluate(moderator: Moderator, records: list[dict]) -> dict:
    """Category and stance reports of a model on labelled records."""
    results = moderator.classifier.predict([r["text"] for r in records], [r["article"] for r in records])
    y_category = np.array([CATEGORIES.index(r["category"]) for r in records])
    report = {"category": classification_report(y_category, results.category, CATEGORIES)}
    with_stance = [i for i, r in enumerate(records) if r["stance"]]
    if with_stance:
        y_stance = np.array([STANCES.index(records[i]["stance"]) for i in with_stance])
        report["stance"] = classification_report(y_stance, results.stance[with_stance], STANCES)
    return report


def cross_validate(records: list[dict], config: TrainingConfig, progress: Progress) -> dict:
    """Grouped, stratified cross-validation on the training records: macro-F1 per fold."""
    splitter = StratifiedGroupKFold(n_splits=config.cv_folds, shuffle=True, random_state=config.seed)
    labels = [r["category"] for r in records]
    groups = [r["group"] for r in records]
    category_f1, stance_f1 = [], []
    for fold, (train, test) in enumerate(splitter.split(np.zeros(len(records)), labels, groups), 1):
        progress(f"cross-validation fold {fold}/{config.cv_folds}")
        classifier = fit_classifier([records[i] for i in train], config)
        report = evaluate(Moderator(classifier, DecisionPolicy(), "cv"), [records[i] for i in test])
        category_f1.append(report["category"]["macro_f1"])
        stance_f1.append(report.get("stance", {}).get("macro_f1", 0.0))
    return {"folds": config.cv_folds, "grouped_by": "article",
            "category_macro_f1": category_f1, "category_macro_f1_mean": round(float(np.mean(category_f1)), 4),
            "stance_macro_f1": stance_f1, "stance_macro_f1_mean": round(float(np.mean(stance_f1)), 4)}


MODEL_CODE_DIR = Path(__file__).resolve().parent.parent / "model"


def model_version(records: list[dict], config: TrainingConfig) -> str:
    """A version naming the date and a hash of the training data, the configuration and the model
    code (features, lexicons), so a change to any of them gives a new version."""
    digest = hashlib.sha256(json.dumps([config.to_dict(), [(r["text"], r["category"], r["stance"])
                                                           for r in records]]).encode())
    for path in sorted(MODEL_CODE_DIR.glob("*.py")) + sorted((MODEL_CODE_DIR / "lexicons").glob("*.txt")):
        digest.update(path.read_bytes())
    return f"{datetime.now(timezone.utc):%Y.%m.%d}-{digest.hexdigest()[:8]}"


def articles_needed(config: TrainingConfig) -> int:
    """Training articles (groups) the fit needs: the heads' ``n_folds`` within every
    cross-validation fold, which holds out a ``cv_folds``-th of them."""
    if not config.cv_folds:
        return config.n_folds
    return max(config.cv_folds, math.ceil(config.n_folds * config.cv_folds / (config.cv_folds - 1)))


def check_enough_articles(train_records: list[dict], config: TrainingConfig) -> None:
    """Refuse training data whose articles are too few to split into the folds the fit needs."""
    n_articles, needed = len({r["group"] for r in train_records}), articles_needed(config)
    if n_articles < needed:
        raise DataError(f"{n_articles} article(s) left for training once the held-out ones are set aside, and "
                        f"training needs at least {needed} (n_folds {config.n_folds}, cv_folds {config.cv_folds}): "
                        "give comments under more articles, or lower n_folds / cv_folds with --config")


def check_min_df(train_records: list[dict], config: TrainingConfig) -> None:
    """Refuse a ``min_df`` above the texts a fit counts n-grams in (each comment, and each with an
    article once more without it): no n-gram could be in that many."""
    texts = sum(2 if record["article"] else 1 for record in train_records)
    fit_texts = texts - (math.ceil(texts / config.cv_folds) if config.cv_folds else 0)
    if config.min_df > fit_texts:
        raise ConfigError(f"min_df = {config.min_df} asks for n-grams in more texts than a fit sees (at most "
                          f"{fit_texts}, from {len(train_records)} training comments): lower min_df with --config")


def check_categories(train_records: list[dict]) -> None:
    """Refuse training data that lacks abusive comments or anything else: the sentence scorer and the
    category head need comments on both sides of the line."""
    counts = Counter(r["category"] for r in train_records)
    if counts["abusive"] == 0 or counts["abusive"] == len(train_records):
        held = ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "nothing"
        raise DataError(f"the comments left for training once the held-out articles are set aside hold {held}: "
                        "training needs abusive comments and comments of another category; add them (or pass "
                        "--include-seeds)")


def train(data: LabelledData, config: TrainingConfig, out_dir: Path, *, force: bool = False,
          policy: DecisionPolicy | None = None, progress: Progress = lambda _: None) -> TrainingOutcome:
    """Train, evaluate and write a model; promote it over the current one only if not worse."""
    started = time.perf_counter()
    check_output_folder(Path(out_dir))
    records = data.records
    progress(f"splitting {len(records)} comments by article")
    train_index, test_index = split_grouped([r["group"] for r in records],
                                            test_fraction=config.test_fraction, seed=config.seed)
    train_records, test_records = [records[i] for i in train_index], [records[i] for i in test_index]
    check_enough_articles(train_records, config)
    check_categories(train_records)
    check_min_df(train_records, config)
    cv = cross_validate(train_records, config, progress) if config.cv_folds else None
    swap = swapped_insults(train_records, config)
    progress(f"fitting on {len(train_records)} comments ({swap.comments} with an insult swapped "
             f"for one of {len(swap.taught)} lexicon insults the data lacks: swap_insults)")
    candidate = Moderator(fit_swapped(swap.records, config), policy or DecisionPolicy(),
                          model_version(records, config))
    progress(f"evaluating on {len(test_records)} held-out comments")
    held_out = evaluate(candidate, test_records)
    metrics = {"held_out": held_out, "cross_validation": cv,
               **probe_checks(candidate),
               "blend_weights": _blend_weights(candidate.classifier),
               "data": {"n_train": len(train_records), "n_test": len(test_records),
                        "test_articles": sorted({r["group"] for r in test_records}),
                        "insults_swapped": swap.summary(),
                        "sources": data.sources}}
    comparison = compare_with_current(out_dir, test_records, candidate)
    promoted = force or comparison is None or (
        comparison["comparable"] and comparison["new_macro_f1"] >= comparison["current_macro_f1"])
    target = Path(out_dir) if promoted else candidate_dir(Path(out_dir))
    progress(f"writing the model to {target}")
    with interrupts_deferred(progress):
        card = save_model(candidate, target, training_config=config.to_dict(), training_data=data.sources,
                          metrics=_card_metrics(metrics), reports=report_writers(metrics))
    return TrainingOutcome(metrics, card, promoted, comparison, target, time.perf_counter() - started)


def candidate_dir(out_dir: Path) -> Path:
    """Where a new model that is not promoted over the one at ``out_dir`` is written."""
    return Path(f"{out_dir}.candidate")


def check_output_folder(out_dir: Path) -> None:
    """Refuse, before any training, an output that cannot be a model folder (nor, beside a current
    model, hold one that is not promoted)."""
    blocking = out_dir if out_dir.exists() and not out_dir.is_dir() else file_in_the_way(out_dir)
    if blocking is not None:
        raise ConfigError(f"--out {out_dir}: {blocking} is a file; give a folder for the model")
    candidate = candidate_dir(out_dir)
    if out_dir.exists() and candidate.exists() and not candidate.is_dir():
        raise ConfigError(f"--out {out_dir}: {candidate}, where a new model that is not promoted is written, "
                          "is a file: move it away or give another --out")
    existing = next(p for p in (out_dir, *out_dir.parents) if p.exists())
    if not os.access(existing, os.W_OK):
        raise ConfigError(f"--out {out_dir}: {existing} is not writable")
    if out_dir.exists() and not candidate.exists() and not os.access(out_dir.parent, os.W_OK):
        raise ConfigError(f"--out {out_dir}: {out_dir.parent}, where {candidate.name} is written for a new model "
                          "that is not promoted, is not writable")


@contextmanager
def interrupts_deferred(progress: Progress) -> Iterator[None]:
    """Ctrl-C or SIGTERM while the model folder is written waits until it is whole: artifact, card and
    report of one model, never a mix of the new and the old (the signal is noted, not lost: SIGTERM is
    acted on once the folder is whole)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {number: signal.signal(number, lambda number, frame: received.append(number))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if signal.SIGINT in received:
        progress("Ctrl-C came while the model was being written: it was finished first")
    if signal.SIGTERM in received:
        progress("SIGTERM came while the model was being written: it was finished first")
        os.kill(os.getpid(), signal.SIGTERM)  # now acted on as it would have been


def compare_with_current(out_dir: Path, test_records: list[dict], candidate: Moderator) -> dict | None:
    """Macro-F1 of the current model at ``out_dir`` and of the candidate, side by side, on the held-out
    comments neither was trained on: those of articles the current model also held out. When the split
    moves (new articles, another seed or test fraction), the rest of the held-out set is in the current
    model's training data and would flatter it; with no article held out by both, the two cannot be
    compared fairly."""
    if not (Path(out_dir) / CARD_FILE).exists():
        return None
    try:
        current, card = load_model(out_dir)
    except ArtifactError as error:
        logger.warning("current model at %s is unusable (%s); the new one replaces it", out_dir, error)
        return None
    its_held_out = held_out_articles(card, Path(out_dir))
    shared = [r for r in test_records if its_held_out is None or r["group"] in its_held_out]
    comparison = {"current_version": card["model_version"], "comparable": bool(shared),
                  "n_compared": len(shared), "n_held_out": len(test_records)}
    if shared:
        current_report, new_report = evaluate(current, shared), evaluate(candidate, shared)
        comparison.update({
            "current_macro_f1": current_report["category"]["macro_f1"],
            "new_macro_f1": new_report["category"]["macro_f1"],
            "current_stance_macro_f1": current_report.get("stance", {}).get("macro_f1"),
            "new_stance_macro_f1": new_report.get("stance", {}).get("macro_f1")})
    return comparison


def held_out_articles(card: dict, directory: Path) -> set[str] | None:
    """The articles a model was evaluated on and not trained on, from its card or its metrics.json
    (None when neither records them)."""
    articles = card.get("metrics", {}).get("held_out_articles")
    if articles is None:
        try:
            articles = json.loads((directory / METRICS_FILE).read_text(encoding="utf-8"))["data"]["test_articles"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return set(articles)


def _blend_weights(classifier) -> dict | None:
    """How much the category head's and the character view's logits count (None without the view)."""
    if classifier.characters_ is None:
        return None
    first, second = classifier.blend_weights_
    return {"category_head": round(first, 4), "character_view": round(second, 4)}


def _card_metrics(metrics: dict) -> dict:
    """The headline numbers that go into the model card."""
    held_out = metrics["held_out"]["category"]
    return {"held_out_category_macro_f1": held_out["macro_f1"],
            "held_out_category_per_class": held_out["per_class"],
            "held_out_stance_macro_f1": metrics["held_out"].get("stance", {}).get("macro_f1"),
            "cross_validation": metrics["cross_validation"],
            "identity_check_share_abusive": metrics["identity_check"]["share_scored_abusive"],
            "criticism_check_share_abusive": metrics["criticism_check"]["share_scored_abusive"],
            "held_out_articles": metrics["data"]["test_articles"]}


def report_writers(metrics: dict) -> dict[str, Callable[[str], None]]:
    """Writers of metrics.json (deterministic bytes) and the PNG plots, saved beside the artifact."""
    from training.plots import plot_report  # matplotlib is imported only when a report is drawn

    return {METRICS_FILE: lambda path: Path(path).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n",
                                                             encoding="utf-8"),
            REPORT_PLOT_FILE: lambda path: plot_report(metrics["held_out"], path)}
