"""Evaluation metrics for the category and stance heads, as a JSON-ready report."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score

N_CALIBRATION_BINS = 10


def classification_report(y_true: np.ndarray, probabilities: np.ndarray, labels: tuple[str, ...]
                          ) -> dict:
    """Per-class precision/recall/F1/ROC AUC, macro-F1, confusion matrix and reliability curve."""
    predicted = probabilities.argmax(axis=1)
    indices = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, predicted, labels=indices, zero_division=0)
    per_class = {}
    for i, label in enumerate(labels):
        positives = (y_true == i).astype(int)
        auc = float(roc_auc_score(positives, probabilities[:, i])) if 0 < positives.sum() < len(positives) else None
        per_class[label] = {"precision": _r(precision[i]), "recall": _r(recall[i]), "f1": _r(f1[i]),
                            "roc_auc": _r(auc) if auc is not None else None, "support": int(support[i])}
    return {
        "n": int(len(y_true)),
        # over the classes the labels or the predictions hold: one absent from both is no failure
        "macro_f1": _r(f1_score(y_true, predicted, labels=sorted({*y_true.tolist(), *predicted.tolist()}) or indices,
                                average="macro", zero_division=0)),
        "accuracy": _r(float((predicted == y_true).mean())) if len(y_true) else 0.0,
        "per_class": per_class,
        "confusion_matrix": {"labels": list(labels),
                             "rows_true_columns_predicted": confusion_matrix(
                                 y_true, predicted, labels=indices).tolist()},
        "calibration": reliability_curve(y_true, probabilities),
    }


def reliability_curve(y_true: np.ndarray, probabilities: np.ndarray) -> dict:
    """Confidence of the top class against its accuracy, in equal-width bins; with the ECE."""
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == y_true).astype(float)
    bins = np.minimum((confidence * N_CALIBRATION_BINS).astype(int), N_CALIBRATION_BINS - 1)
    curve, ece = [], 0.0
    for b in range(N_CALIBRATION_BINS):
        members = bins == b
        if not members.any():
            continue
        mean_confidence, accuracy = float(confidence[members].mean()), float(correct[members].mean())
        ece += members.mean() * abs(mean_confidence - accuracy)
        curve.append({"bin": b, "mean_confidence": _r(mean_confidence), "accuracy": _r(accuracy),
                      "n": int(members.sum())})
    return {"bins": curve, "expected_calibration_error": _r(ece)}


def _r(value: float) -> float:
    """Round for stable, readable JSON."""
    return round(float(value), 4)
