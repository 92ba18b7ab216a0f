"""Loading the model to serve: the chosen artifact, or the default retrained if it cannot be used."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from model.artifact import (
    DEFAULT_MODEL_DIR,
    IncompatibleArtifactError,
    atomic_write,
    load_model,
    read_card,
)
from model.moderation import Moderator

logger = logging.getLogger(__name__)
RETRAINED_FROM_FILE = "retrained-from.json"  # beside a retrained default: the shipped artifact it stands in for


def fallback_model_dir(data_dir: Path) -> Path:
    """Where a default model retrained on this machine is kept."""
    return Path(data_dir) / "models" / "default-retrained"


def load_serving_model(model_dir: Path, data_dir: Path) -> tuple[Moderator, dict]:
    """Load ``model_dir``; if it is the shipped default and cannot be used here (other library
    versions, or other feature code than it was trained with), retrain it."""
    try:
        return load_model(model_dir)
    except IncompatibleArtifactError as error:
        if Path(model_dir).resolve() != DEFAULT_MODEL_DIR.resolve():
            raise
        return retrained_default(Path(data_dir), error)


def retrained_default(data_dir: Path, why: Exception) -> tuple[Moderator, dict]:
    """The default retrained on this machine for the shipped model of now: kept from an earlier run
    when it was retrained for this very shipped artifact, else retrained from seeds/."""
    retrained, shipped = fallback_model_dir(data_dir), read_card(DEFAULT_MODEL_DIR)["artifact"]["sha256"]
    if _retrained_for(retrained) == shipped:
        try:
            return load_model(retrained)
        except Exception:  # any failure here means: retrain now
            pass
    logger.warning("shipped model unusable here (%s); retraining the default model from seeds/ "
                   "into %s", why, retrained)
    from training.config import TrainingConfig
    from training.sources import load_seed_data
    from training.train import train

    (retrained / RETRAINED_FROM_FILE).unlink(missing_ok=True)  # it would vouch for a folder being rewritten
    train(load_seed_data(), TrainingConfig(cv_folds=0), retrained, force=True)
    atomic_write(retrained / RETRAINED_FROM_FILE, lambda path: Path(path).write_text(
        json.dumps({"shipped_artifact_sha256": shipped}) + "\n", encoding="utf-8"))
    return load_model(retrained)


def _retrained_for(directory: Path) -> str | None:
    """The shipped artifact's sha256 a retrained default was made for (None: unknown, or none there)."""
    try:
        return json.loads((directory / RETRAINED_FROM_FILE).read_text(encoding="utf-8"))["shipped_artifact_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
