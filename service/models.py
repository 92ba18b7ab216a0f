"""Loading the model to serve: the chosen artifact, or the default retrained if it cannot be used."""

from __future__ import annotations

import logging
from pathlib import Path

from model.artifact import DEFAULT_MODEL_DIR, IncompatibleArtifactError, load_model
from model.moderation import Moderator

logger = logging.getLogger(__name__)


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
        retrained = fallback_model_dir(data_dir)
        try:
            return load_model(retrained)
        except Exception:  # any failure here means: retrain now
            pass
        logger.warning("shipped model unusable here (%s); retraining the default model from seeds/ "
                       "into %s", error, retrained)
        from training.config import TrainingConfig
        from training.sources import load_seed_data
        from training.train import train

        train(load_seed_data(), TrainingConfig(cv_folds=0), retrained, force=True)
        return load_model(retrained)
