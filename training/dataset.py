"""The labelled comment set: validation, loading into a ``datasets.DatasetDict`` and the grouped split."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from model.corpus import Article, load_articles, read_jsonl
from model.errors import DataError
from model.labels import CATEGORIES, STANCES
from seeds import SEEDS_DIR

ARTICLES_FILE = "articles.jsonl"
COMMENTS_FILE = "comments.jsonl"
COMMENT_FIELDS = ("id", "article_id", "text", "category", "stance", "rationale", "source")
SOURCES = ("seed_comment", "written", "feedback")
NEAR_DUPLICATE_OVERLAP = 0.8
SHINGLE_WORDS = 5
MIN_PER_CATEGORY = 500
MIN_WRITTEN = 2000
MIN_WRITTEN_ARTICLES = 20

FEATURES = Features({
    "id": Value("string"),
    "article_id": Value("string"),
    "article_title": Value("string"),
    "article_body": Value("string"),
    "text": Value("string"),
    "category": ClassLabel(names=list(CATEGORIES)),
    "stance": ClassLabel(names=list(STANCES)),
    "source": Value("string"),
    "hard_case": Value("string"),
    "position": Value("int64"),
})


@dataclass
class ValidationReport:
    """What the validator found: problems (file, line, field, message) and the set's numbers."""

    problems: list[str] = field(default_factory=list)
    n_comments: int = 0
    n_articles: int = 0
    by_category: Counter = field(default_factory=Counter)
    by_stance: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)
    by_hard_case: Counter = field(default_factory=Counter)
    n_written_articles: int = 0
    n_articles_with_comments: int = 0

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def validate_labelled_set(directory: Path = SEEDS_DIR, *, check_minimums: bool = True) -> ValidationReport:
    """Check the articles and comments files; every problem names file, line and field."""
    report = ValidationReport()
    articles_path, comments_path = Path(directory) / ARTICLES_FILE, Path(directory) / COMMENTS_FILE
    try:
        articles = load_articles(articles_path)
    except (DataError, OSError) as error:
        report.problems.append(_problem(error))
        return report
    report.n_articles = len(articles)
    report.n_written_articles = sum(a.source == "written" for a in articles.values())
    rows = _comment_rows(comments_path, report.problems)
    for number, record in rows:
        report.problems.extend(_record_problems(record, articles, f"{comments_path}:{number}"))
        for name, counts in (("category", report.by_category), ("stance", report.by_stance),
                             ("source", report.by_source)):  # each adds up to the comments
            value = record.get(name)
            counts[value if isinstance(value, str) and value else "(missing)"] += 1
        hard_case = record.get("hard_case")
        report.by_hard_case[hard_case if isinstance(hard_case, str) and hard_case else "none"] += 1
    report.n_comments = len(rows)
    report.n_articles_with_comments = len({r["article_id"] for _, r in rows if isinstance(r.get("article_id"), str)})
    report.problems.extend(_duplicate_problems(rows, comments_path))
    if check_minimums:
        report.problems.extend(_minimum_problems(report, comments_path))
    return report


def _comment_rows(path: Path, problems: list[str]) -> list[tuple[int, dict]]:
    """The comments file's objects with their lines; a line that is not a JSON object is a problem and
    the reading goes on (bytes that are not UTF-8 stop it, at their line)."""
    rows = []
    try:
        for row in read_jsonl(path, problems):
            rows.append(row)  # noqa: PERF402 (not list(): the rows before an unreadable byte are kept)
    except (DataError, OSError) as error:
        problems.append(_problem(error))
    return rows


def _problem(error: DataError | OSError) -> str:
    """A file's problem as the validator lists them, the file first ("[Errno 2] No such file or
    directory: 'comments.jsonl'" was an OSError's own words)."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return str(error)


def _record_problems(record: dict, articles: dict[str, Article], where: str) -> list[str]:
    """Problems of one comment record: missing fields, unknown labels, unknown article."""
    problems = [f"{where}: field '{name}': {problem}" for name in COMMENT_FIELDS
                if (problem := _text_field_problem(record.get(name)))]
    allowed = {"category": CATEGORIES, "stance": STANCES, "source": SOURCES}
    for name, values in allowed.items():
        value = record.get(name)
        if isinstance(value, str) and value.strip() and value not in values:
            problems.append(f"{where}: field '{name}': unknown label '{value}' "
                            f"(expected one of {', '.join(values)})")
    if record.get("hard_case") is not None and not isinstance(record["hard_case"], str):
        problems.append(f"{where}: field 'hard_case': must be a tag (a string) or null, "
                        f"got {type(record['hard_case']).__name__}")
    article_id = record.get("article_id")
    if isinstance(article_id, str) and article_id.strip() and article_id not in articles:
        problems.append(f"{where}: field 'article_id': unknown article '{article_id}'")
    return problems


def _text_field_problem(value: object) -> str | None:
    """What is wrong with a required text field's value (None: nothing)."""
    if value is None or isinstance(value, str) and not value.strip():
        return "missing or empty"
    return None if isinstance(value, str) else f"must be text, got {type(value).__name__}"


def _duplicate_problems(rows: list[tuple[int, dict]], path: Path) -> list[str]:
    """Duplicate ids, exact duplicate texts and near-duplicates (word 5-gram Jaccard > 0.8)."""
    problems: list[str] = []
    first_line_of_id: dict[str, int] = {}
    first_line_of_text: dict[str, int] = {}
    for number, record in rows:
        comment_id, text = record.get("id"), record.get("text")
        if isinstance(comment_id, str):
            if comment_id in first_line_of_id:
                problems.append(f"{path}:{number}: field 'id': duplicate id '{comment_id}' "
                                f"(first at line {first_line_of_id[comment_id]})")
            first_line_of_id.setdefault(comment_id, number)
        if isinstance(text, str) and text.strip():
            key = normalise_for_duplicates(text)
            if key in first_line_of_text:
                problems.append(f"{path}:{number}: field 'text': exact duplicate of line "
                                f"{first_line_of_text[key]}")
            else:
                first_line_of_text[key] = number
    for earlier, later, overlap in find_near_duplicates(rows):
        problems.append(f"{path}:{later}: field 'text': near-duplicate of line {earlier} "
                        f"(word {SHINGLE_WORDS}-gram overlap {overlap:.2f} > {NEAR_DUPLICATE_OVERLAP})")
    return problems


def normalise_for_duplicates(text: str) -> str:
    """Lower-case words only, so that case and punctuation do not hide a duplicate."""
    return " ".join(re.findall(r"\w+", text.lower()))


def shingles(text: str) -> set[tuple[str, ...]]:
    """The set of word 5-grams of a text."""
    words = normalise_for_duplicates(text).split()
    return {tuple(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def find_near_duplicates(rows: list[tuple[int, dict]]) -> list[tuple[int, int, float]]:
    """Pairs of lines (earlier, later) whose texts' 5-gram Jaccard overlap exceeds the threshold."""
    texts = {n: normalise_for_duplicates(r["text"]) for n, r in rows if isinstance(r.get("text"), str)}
    shingle_sets = {n: shingles(text) for n, text in texts.items()}
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    pairs: list[tuple[int, int, float]] = []
    for number, own in shingle_sets.items():
        candidates = Counter(other for s in own for other in index[s])
        for other, shared in candidates.items():
            overlap = shared / len(own | shingle_sets[other])
            if overlap > NEAR_DUPLICATE_OVERLAP and texts[other] != texts[number]:
                pairs.append((other, number, overlap))
        for s in own:
            index[s].append(number)
    return pairs


def _minimum_problems(report: ValidationReport, path: Path) -> list[str]:
    """The set's size requirements: written comments, per-category counts, written articles."""
    problems = []
    if report.by_source["written"] < MIN_WRITTEN:
        problems.append(f"{path}: only {report.by_source['written']} written comments "
                        f"(at least {MIN_WRITTEN} required)")
    for category in CATEGORIES:
        if report.by_category[category] < MIN_PER_CATEGORY:
            problems.append(f"{path}: field 'category': only {report.by_category[category]} "
                            f"'{category}' comments (at least {MIN_PER_CATEGORY} required)")
    if report.n_written_articles < MIN_WRITTEN_ARTICLES:
        problems.append(f"{path.parent / ARTICLES_FILE}: only {report.n_written_articles} written "
                        f"articles (at least {MIN_WRITTEN_ARTICLES} required)")
    return problems


def load_records(directory: Path = SEEDS_DIR) -> list[dict]:
    """Validated comment records joined with their article's title and body."""
    report = validate_labelled_set(directory, check_minimums=False)
    if not report.ok:
        raise DataError(f"labelled set is invalid ({len(report.problems)} problems); first: "
                        f"{report.problems[0]}; run `moderate validate` for all")
    articles = load_articles(Path(directory) / ARTICLES_FILE)
    records = []
    for _, record in read_jsonl(Path(directory) / COMMENTS_FILE):
        article = articles[record["article_id"]]
        records.append({name: record[name] for name in
                        ("id", "article_id", "text", "category", "stance", "source")}
                       | {"hard_case": record.get("hard_case"), "article_title": article.title,
                          "article_body": article.body,
                          "position": len(records)})
    return records


def to_dataset(records: list[dict]) -> Dataset:
    """Records as a ``datasets.Dataset`` with ClassLabel category and stance."""
    columns = {name: [r.get(name) for r in records] for name in FEATURES}
    return Dataset.from_dict(columns, features=FEATURES)


def split_grouped(groups: list[str], *, test_fraction: float = 0.2, seed: int = 0
                  ) -> tuple[list[int], list[int]]:
    """Deterministic train/test indices with no group on both sides: the held-out groups are the
    ``test_fraction`` of groups (at least one) whose seeded hash is lowest, so comments added to a
    group never move the split and a new group moves at most one other across it."""
    distinct = sorted(set(groups), key=lambda group: hashlib.sha256(f"{seed}\0{group}".encode()).digest())
    held_out = set(distinct[:max(1, round(len(distinct) * test_fraction))])
    train_index = [i for i, group in enumerate(groups) if group not in held_out]
    test_index = [i for i, group in enumerate(groups) if group in held_out]
    return train_index, test_index


def load_labelled_set(directory: Path = SEEDS_DIR, *, test_fraction: float = 0.2, seed: int = 0
                      ) -> DatasetDict:
    """The labelled set as a DatasetDict with 'train' and 'test', split by article."""
    records = load_records(directory)
    train_index, test_index = split_grouped([r["article_id"] for r in records],
                                            test_fraction=test_fraction, seed=seed)
    dataset = to_dataset(records)
    return DatasetDict(train=dataset.select(train_index), test=dataset.select(test_index))
