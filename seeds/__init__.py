"""The seed corpus: five articles on human rights in North Korea and the labelled comment set."""

from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parent
