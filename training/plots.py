"""PNG plots of an evaluation report: confusion matrices and reliability curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_report(report: dict, path: Path | str) -> None:
    """Draw each head's confusion matrix and reliability curve into one PNG at ``path``."""
    heads = [h for h in ("category", "stance") if h in report]
    figure, axes = plt.subplots(2, len(heads), figsize=(5 * len(heads), 9), squeeze=False)
    for column, head in enumerate(heads):
        _confusion(axes[0][column], report[head], head)
        _reliability(axes[1][column], report[head], head)
    figure.tight_layout()
    figure.savefig(path, dpi=80, format="png", metadata={"Software": None})
    plt.close(figure)


def _confusion(axis, head_report: dict, head: str) -> None:
    matrix = head_report["confusion_matrix"]
    labels, cells = matrix["labels"], matrix["rows_true_columns_predicted"]
    axis.imshow(cells, cmap="Blues")
    axis.set_xticks(range(len(labels)), labels, rotation=30)
    axis.set_yticks(range(len(labels)), labels)
    for i, row in enumerate(cells):
        for j, value in enumerate(row):
            axis.text(j, i, str(value), ha="center", va="center")
    axis.set_title(f"{head}: confusion (rows true, columns predicted)")


def _reliability(axis, head_report: dict, head: str) -> None:
    bins = head_report["calibration"]["bins"]
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axis.plot([b["mean_confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o")
    ece = head_report["calibration"]["expected_calibration_error"]
    axis.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1),
             title=f"{head}: reliability (ECE {ece})")
