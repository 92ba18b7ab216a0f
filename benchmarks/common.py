"""Helpers shared by the benchmark scripts: the external evaluation sets and timing."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

EXTERNAL_DIR = Path(os.environ.get("MODERATE_EXTERNAL_DIR",
                                   Path(__file__).resolve().parents[2] / "shared" / "data" / "external"))


def require_external() -> Path:
    """The folder of external labelled sets, or exit with a clear message."""
    if not EXTERNAL_DIR.is_dir():
        sys.exit(f"external evaluation sets not found at {EXTERNAL_DIR}: set MODERATE_EXTERNAL_DIR")
    return EXTERNAL_DIR


def non_english_ids() -> set[str]:
    """Ids of the labelled-set comments tagged non_english (written in another language)."""
    from model.corpus import read_jsonl
    from seeds import SEEDS_DIR
    return {row["id"] for _, row in read_jsonl(SEEDS_DIR / "comments.jsonl")
            if row.get("hard_case") == "non_english"}


def read_csv(path: Path, delimiter: str = ",") -> list[dict]:
    """Rows of a CSV (or TSV) file as dicts."""
    csv.field_size_limit(10**8)
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def whataboutism_twitter() -> tuple[list[str], list[int]]:
    """Tweets replying to news posts; label 1 = whataboutism (all splits)."""
    texts, labels = [], []
    for split in ("train", "val", "test"):
        for row in read_csv(require_external() / "whataboutism-twitter" / f"twitter_data_1204_{split}.csv"):
            texts.append(row["Tweet"])
            labels.append(int(row["Label"]))
    return texts, labels


def reddit_worse_problems() -> tuple[list[str], list[str], list[int]]:
    """Reddit comments ('parent') under news posts ('title'); 1 = appeal to worse problems."""
    folder = require_external() / "reddit-worse-problems"
    texts, titles, labels = [], [], []
    for path, delimiter in (("worse_problems_annotated.csv", ","), ("worse_problems_negative-samples.csv", "\t")):
        for row in read_csv(folder / path, delimiter):
            if row.get("parent") and row["parent"] != "None":
                texts.append(row["parent"])
                titles.append(row["title"])
                labels.append(int(row["fallacy_exists"]))
    return texts, titles, labels


def davidson() -> tuple[list[str], list[int]]:
    """Tweets; 1 = hate speech or offensive, 0 = neither."""
    rows = read_csv(require_external() / "davidson-hate-offensive" / "labeled_data.csv")
    return [r["tweet"] for r in rows], [int(r["class"] in ("0", "1")) for r in rows]
