"""Plain-text rendering of evaluation reports for the terminal."""

from __future__ import annotations


def format_head(name: str, report: dict) -> str:
    """A per-class table, macro-F1, calibration error and the confusion matrix of one head."""
    lines = [f"{name} (n={report['n']})",
             f"  {'class':<14}{'precision':>10}{'recall':>8}{'f1':>8}{'roc_auc':>9}{'support':>9}"]
    for label, row in report["per_class"].items():
        auc = "-" if row["roc_auc"] is None else f"{row['roc_auc']:.3f}"
        lines.append(f"  {label:<14}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>8.3f}"
                     f"{auc:>9}{row['support']:>9}")
    lines.append(f"  macro-F1 {report['macro_f1']:.3f}   accuracy {report['accuracy']:.3f}   "
                 f"calibration error (ECE) {report['calibration']['expected_calibration_error']:.3f}")
    labels = report["confusion_matrix"]["labels"]
    lines.append("  confusion (rows true, columns predicted): " + " / ".join(l[:5] for l in labels))
    for label, row in zip(labels, report["confusion_matrix"]["rows_true_columns_predicted"]):
        lines.append(f"    {label:<14}" + "".join(f"{v:>7}" for v in row))
    return "\n".join(lines)


def format_report(report: dict) -> str:
    """Both heads of an evaluation report."""
    return "\n".join(format_head(head, report[head]) for head in ("category", "stance") if head in report)


def format_comparison(comparison: dict) -> str:
    """The current and the new model side by side, on the held-out comments neither trained on."""
    if not comparison["comparable"]:
        return (f"  the current model ({comparison['current_version']}) was trained on every article now "
                f"held out, so the two cannot be compared fairly")
    current, new = comparison["current_macro_f1"], comparison["new_macro_f1"]
    decimals = _telling(current, new)
    return "\n".join([
        f"  {'':<22}{'current':>10}{'new':>10}",
        f"  {'category macro-F1':<22}{current:>10.{decimals}f}{new:>10.{decimals}f}",
        f"  {'stance macro-F1':<22}{_score(comparison['current_stance_macro_f1'])}"
        f"{_score(comparison['new_stance_macro_f1'])}",
        f"  (current model {comparison['current_version']}; on the {comparison['n_compared']} of "
        f"{comparison['n_held_out']} held-out comments whose articles neither model trained on)"])


def _telling(current: float, new: float) -> int:
    """Decimals that show the two scores the promotion compares apart (3, or up to 6 when they differ
    by less than 3 show: a model worse by 0.0004 was refused while both read 0.903)."""
    return next((d for d in range(3, 7) if f"{current:.{d}f}" != f"{new:.{d}f}"), 6 if current != new else 3)


def _score(value: float | None) -> str:
    """A macro-F1 in a comparison column; '-' when there was nothing to score (no stance labels)."""
    return f"{'-':>10}" if value is None else f"{value:>10.3f}"


PROBE_CHECKS = {"identity_check": "neutral identity sentences",
                "criticism_check": "civil criticisms of authors, outlets and institutions"}


def format_probe_checks(checks: dict) -> str:
    """One line per probe check (``training.probes``) in ``checks``: how many of its sentences scored abusive."""
    return "\n".join(f"{name.replace('_', ' ')}: {check['n_scored_abusive']}/{check['n_sentences']} "
                     f"{PROBE_CHECKS[name]} scored abusive ({check['share_scored_abusive']:.1%}, "
                     f"target ≤ {check['target_max_share']:.0%})" for name, check in checks.items() if name in PROBE_CHECKS)
