"""The training configuration: code defaults, then an optional TOML file, then command-line overrides."""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from model.errors import ConfigError


@dataclass(frozen=True)
class TrainingConfig:
    """Every knob of a training run; the resolved values are written into the model card."""

    C_category: float = 8.0
    C_stance: float = 2.0
    C_sentence: float = 4.0
    sentence_min_share: float = 0.65  # the sentence scorer skips n-grams leaning to abuse by less (0: reads all)
    clauses: bool = False  # true: the sentence scorer reads each clause on its own (see the README)
    min_df: int = 3
    dense_weight: float = 1.0
    evidence_power: float = 0.5
    C_characters: float = 0.0  # 0: no character view; 16 turns it on (see the README)
    spelling: bool = True  # the character n-grams inside each word, in the category and stance heads
    swap_insults: float = 0.8  # share of comments lending their insult to one the data lacks (plural ones: all; 0: off)
    n_folds: int = 5
    cv_folds: int = 5
    test_fraction: float = 0.2
    seed: int = 0

    def to_dict(self) -> dict:
        """JSON-ready values."""
        return asdict(self)


def resolve_config(path: Path | None = None, **overrides: object) -> TrainingConfig:
    """Defaults, updated from a TOML file (table [training] or top level), then from overrides."""
    values: dict[str, object] = {}
    if path is not None:
        try:
            document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"{path}: cannot read training config ({error})") from None
        values.update(_settings_of(document, path))
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name: f.type for f in fields(TrainingConfig)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown training setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    for name, value in values.items():
        _check_type(name, value, path)
    config = replace(TrainingConfig(), **values)
    if not 0 < config.test_fraction < 1:
        raise ConfigError(f"test_fraction must be between 0 and 1, got {config.test_fraction}")
    if config.evidence_power < 0:
        raise ConfigError(f"evidence_power must be 0 (off) or more, got {config.evidence_power}")
    if config.dense_weight < 0:
        raise ConfigError(f"dense_weight must be 0 (no dense cues) or more, got {config.dense_weight}")
    if not 0 <= config.swap_insults <= 1:
        raise ConfigError(f"swap_insults must be between 0 (off) and 1, got {config.swap_insults}")
    if not 0 <= config.sentence_min_share < 1:
        raise ConfigError(f"sentence_min_share must be between 0 (off) and 1, got {config.sentence_min_share}")
    if config.C_characters < 0:
        raise ConfigError(f"C_characters must be 0 (no character view) or more, got {config.C_characters}")
    if config.n_folds < 2 or config.cv_folds == 1 or config.cv_folds < 0:
        raise ConfigError("n_folds must be at least 2 and cv_folds 0 (off) or at least 2")
    for name in ("C_category", "C_stance", "C_sentence"):
        if not 0 < getattr(config, name) < math.inf:
            raise ConfigError(f"{name} must be a number above 0, got {getattr(config, name)}")
    if config.min_df < 1:
        raise ConfigError(f"min_df must be at least 1, got {config.min_df}")
    if not 0 <= config.seed < 2**32:
        raise ConfigError(f"seed must be between 0 and 2**32 - 1, got {config.seed}")
    return config


def _settings_of(document: dict, path: Path) -> dict:
    """The training settings of a TOML document: its [training] table, or its top level without one."""
    if "training" not in document:
        return document
    table = document["training"]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'training' must be a table ([training]), got {type(table).__name__}")
    if len(document) > 1:
        raise ConfigError(f"{path}: settings both at the top level ({', '.join(sorted(set(document) - {'training'}))}) "
                          f"and in [training]: put them all in [training]")
    return table


def _check_type(name: str, value: object, path: Path | None) -> None:
    """Refuse a setting whose value is not of its default's type (an int where a float is due is fine), or
    a number that is not finite (TOML's nan and inf)."""
    default = getattr(TrainingConfig(), name)
    expected = (int, float) if isinstance(default, float) else (type(default),)
    where = f"{path}: " if path is not None else ""
    if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, expected):
        raise ConfigError(f"{where}training setting {name} must be {type(default).__name__}, "
                          f"got {value!r} ({type(value).__name__})")
    if isinstance(value, float) and not math.isfinite(value):  # nan hung a fit or failed in scikit-learn
        raise ConfigError(f"{where}training setting {name} must be a finite number, got {value}")
