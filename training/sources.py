"""Labelled data sources for training and evaluation: the seed set, or an operator's own files."""

from __future__ import annotations

import csv
import hashlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from model.artifact import sha256_of
from model.corpus import Article, is_saved_dataset, read_jsonl, repeated_name, text_lines
from model.errors import DataError
from model.labels import CATEGORIES, STANCES
from model.text import LONE_SURROGATE
from seeds import SEEDS_DIR
from training.dataset import ARTICLES_FILE, COMMENTS_FILE, load_labelled_set
from training.train import LabelledData

if TYPE_CHECKING:
    from datasets import DatasetDict

FILE_LOADERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet",
                ".gz": None}
SAME_SUFFIX = {".ndjson": ".jsonl"}  # names `moderate label` reads too (any case)


@dataclass(frozen=True)
class ColumnMap:
    """Which columns of an operator's file hold what, and how its labels map to categories."""

    text: str = "text"
    label: str = "category"
    stance: str = "stance"
    id: str = "id"
    article_id: str = "article_id"
    article_title: str = "article_title"
    article_body: str = "article_body"
    label_map: dict[str, str] = field(default_factory=dict)


def parse_label_map(spec: str | None) -> dict[str, str]:
    """'1=abusive,0=substantive' -> {'1': 'abusive', '0': 'substantive'}, labels checked."""
    if not spec:
        return {}
    mapping = {}
    for pair in spec.split(","):
        raw, separator, label = pair.partition("=")
        if not separator or not raw.strip():
            raise DataError(f"--label-map entry '{pair}' is not RAW=LABEL (e.g. 1=abusive)")
        raw, label = raw.strip(), label.strip()
        if label not in CATEGORIES:
            raise DataError(f"--label-map maps '{raw}' to unknown label '{label}' "
                            f"(expected one of {', '.join(CATEGORIES)})")
        if raw in mapping:  # the later entry would silently win
            raise DataError(f"--label-map maps '{raw}' twice (to '{mapping[raw]}' and to '{label}'); "
                            "give each raw label once")
        mapping[raw] = label
    return mapping


def seed_records_as_training(records: list[dict]) -> list[dict]:
    """Seed-set records in the shape training uses (article text joined, article as group)."""
    return [{"id": r["id"], "text": r["text"], "category": r["category"], "stance": r["stance"],
             "article": Article(r["article_id"], r["article_title"], r["article_body"]).text,
             "group": r["article_id"], "source": r["source"], "hard_case": r.get("hard_case")} for r in records]


def load_seed_data(directory: Path = SEEDS_DIR, dataset: DatasetDict | None = None) -> LabelledData:
    """The shipped labelled set, read through its ``datasets.DatasetDict`` (``dataset``, when it was
    already loaded from ``directory``), with its files' hashes."""
    dataset = load_labelled_set(directory) if dataset is None else dataset
    names = {column: dataset["train"].features[column].int2str for column in ("category", "stance")}
    rows = [row | {column: names[column](row[column]) for column in names}
            for split in ("train", "test") for row in dataset[split].to_list()]  # to_list: columnar, fast
    records = seed_records_as_training(sorted(rows, key=lambda row: row["position"]))
    sources = [{"path": f"seeds/{name}", "sha256": sha256_of(Path(directory) / name)}
               for name in (ARTICLES_FILE, COMMENTS_FILE)]
    sources[1].update(rows=len(records), labels=sorted({r["category"] for r in records}))
    return LabelledData(records, sources)


def load_source(spec: str, columns: ColumnMap, articles: dict[str, str] | None = None) -> LabelledData:
    """An operator's labelled source (file, directory or Hugging Face dataset name) via datasets; a
    row naming a known article's id (``articles``: id -> text) without its text gets that text."""
    dataset, kind, row_lines = _load_dataset(spec)
    names = set(dataset.column_names)
    defaults = ColumnMap()
    named = [("--text-column", columns.text, None), ("--label-column", columns.label, None),
             ("--stance-column", columns.stance, defaults.stance), ("--id-column", columns.id, defaults.id),
             ("--article-id-column", columns.article_id, defaults.article_id),
             ("--article-title-column", columns.article_title, defaults.article_title),
             ("--article-body-column", columns.article_body, defaults.article_body)]
    for role, column, default in named:  # an optional column may be absent under its default name only
        if column not in names and column != default:
            raise DataError(f"no column '{column}' (set {role}); columns are: {', '.join(sorted(names))}",
                            path=spec, field=column)
    if len(row_lines) != len(dataset):  # rows without lines, or a loader reading rows the check did not
        first = {"csv": 2}.get(kind, 1)  # a CSV header is line 1; other rows count from 1, as `label` does
        row_lines = [first + n for n in range(len(dataset))]
    classes = _class_names(dataset)
    records = [_record(_named_classes(row, classes), line, spec, columns, names, articles or {})
               for line, row in _rows(dataset, row_lines, spec)]
    covered = sorted({r["category"] for r in records})
    # a file or folder by its absolute path, so the card names it wherever training ran from
    source = {"path": str(Path(spec).resolve()) if Path(spec).exists() else spec, "kind": kind,
              "rows": len(records), "labels": covered}
    if Path(spec).is_file():
        source["sha256"] = sha256_of(Path(spec))
    if len(covered) < len(CATEGORIES):
        source["note"] = (f"labels only {', '.join(covered)}; used for what it labels, no "
                          f"{', '.join(sorted(set(CATEGORIES) - set(covered)))} examples from it")
    return LabelledData(records, [source])


def _class_names(dataset) -> dict[str, Callable[[int], str]]:
    """Per column of class labels (a `datasets` ClassLabel: a saved folder's, a Hub dataset's, a Parquet
    file datasets wrote), the function naming its classes; their rows hold the classes' numbers."""
    from datasets import ClassLabel

    return {name: feature.int2str for name, feature in (dataset.features or {}).items()
            if isinstance(feature, ClassLabel)}


def _named_classes(row: dict, classes: dict[str, Callable[[int], str]]) -> dict:
    """A row with its class labels as the names its dataset gives them (2 was 'unknown label 2' for
    'abusive', and a stance had no map), and -1, the datasets' "no label", as none."""
    if not classes:
        return row
    return row | {name: name_of(row[name]) if isinstance(row[name], int) and row[name] >= 0 else None
                  for name, name_of in classes.items()}


def _rows(dataset, row_lines: list[int], spec: str) -> Iterator[tuple[int, dict]]:
    """Each row with its line; text that is not UTF-8 (a Parquet writer need not check) is refused by
    its line and field."""
    rows = iter(dataset)
    for position, line in enumerate(row_lines):
        try:
            row = next(rows)
        except UnicodeDecodeError as error:
            raise DataError(f"not valid UTF-8 (byte 0x{error.object[error.start]:02x})", path=spec, line=line,
                            field=_field_not_utf8(dataset, position)) from None
        yield line, row


def _field_not_utf8(dataset, position: int) -> str | None:
    """The first column of a row whose text is not UTF-8."""
    row = dataset.with_format("arrow")[position]
    for name in row.column_names:
        try:
            row.column(name).to_pylist()
        except UnicodeDecodeError:
            return name
    return None


def _load_dataset(spec: str):
    """A datasets.Dataset for a path or hub name, its kind, and each row's line number in its file
    (empty where rows have no lines: directories and hub names)."""
    import datasets

    datasets.disable_progress_bars()  # "Generating train split" bars on stderr: our own progress says enough
    path = Path(spec)
    try:
        if path.is_dir():
            if is_saved_dataset(path):
                return _train_split(datasets.load_from_disk(str(path)), spec), "saved", []
            raise DataError("directory is not a dataset saved by `datasets` (no dataset_info.json)", path=spec)
        if path.exists():
            suffixes = [SAME_SUFFIX.get(s.lower(), s.lower()) for s in path.suffixes if s.lower() != ".gz"]
            loader = FILE_LOADERS.get(suffixes[-1] if suffixes else "")
            if loader is None:
                raise DataError("unsupported file type (use .jsonl, .csv, .parquet or a datasets directory)",
                                path=spec)
            row_lines = (_row_lines(path, suffixes[-1]) if loader in ("json", "csv") else
                         _parquet_rows(path))
            options = _csv_options(path) if loader == "csv" else {}
            loaded = datasets.load_dataset(loader, data_files=str(path), split="train", **options)
            return loaded, loader, row_lines
        if not _hub_name(spec):
            raise DataError("no such file or directory", path=spec)
        return datasets.load_dataset(spec, split="train"), "hub", []
    except DataError:
        raise
    except Exception as error:  # datasets raises many types: offline, parse errors, bad schema
        message = _first_line(_root_cause(error))
        if "offline" in message.lower() or "connect" in message.lower() or "resolve" in message.lower():
            message = f"cannot reach the Hugging Face hub to load '{spec}' (offline?): {message}"
        raise DataError(f"cannot load: {message}", path=spec) from None


def _hub_name(spec: str) -> bool:
    """Whether a spec that is no local path reads as a Hugging Face dataset name, 'owner/name': one
    slash, neither first nor last, and no data file's extension (a missing file is not asked of the hub)."""
    owner, _, name = spec.partition("/")
    return (bool(owner) and bool(name) and "/" not in name and not owner.startswith(".")
            and Path(name).suffix.lower() not in (*FILE_LOADERS, ".ndjson"))


def _train_split(loaded, spec: str):
    """A saved Dataset, or the 'train' split of a saved DatasetDict; one without it is refused, naming
    its splits (it was "cannot load: 'train'")."""
    import datasets

    if not isinstance(loaded, datasets.DatasetDict):
        return loaded
    if "train" not in loaded:
        raise DataError(f"this `datasets` folder holds splits {sorted(loaded)} and no 'train' split, the one "
                        "--data reads: save the split to use under 'train', or on its own", path=spec)
    return loaded["train"]


def _root_cause(error: BaseException) -> BaseException:
    """The error at the bottom of a chain (datasets wraps a parser's "EOF inside string starting at
    row 1" in "An error occurred while generating the dataset")."""
    while error.__cause__ is not None or (error.__context__ is not None and not error.__suppress_context__):
        error = error.__cause__ or error.__context__
    return error


def _first_line(error: BaseException) -> str:
    """An error's first line of text, or its type's name."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _row_lines(path: Path, suffix: str) -> list[int]:
    """The line each row of a JSON Lines or CSV file starts on, blank lines skipped as the loaders skip
    them; refuses, naming file, line and field, what the ``datasets`` loaders fail on without saying
    where: a byte that is not UTF-8, a JSON line that is not an object, a lone surrogate, no rows."""
    if suffix == ".jsonl":
        row_lines = []
        for number, record in read_jsonl(path):
            row_lines.append(number)
            for name, value in record.items():
                if isinstance(value, str) and LONE_SURROGATE.search(value):
                    raise DataError("holds a lone surrogate (half of a UTF-16 pair), which is not valid "
                                    "Unicode", path=str(path), line=number, field=name)
    elif suffix == ".csv":
        row_lines = _csv_row_lines(path)[1:]  # the first is the header
    else:  # a .json file: one JSON document or JSON Lines; rows counted from the top
        row_lines = [number for number, line in text_lines(path) if line.strip()]
    if not row_lines:
        raise DataError("the file holds no rows", path=str(path))
    return row_lines


def _parquet_rows(path: Path) -> list[int]:
    """A Parquet file's rows, numbered from 1; one without rows is refused (the loader's message was
    "BatchSize must be greater than 0")."""
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(path).metadata.num_rows
    if not rows:
        raise DataError("the file holds no rows", path=str(path))
    return list(range(1, rows + 1))


def _csv_options(path: Path) -> dict:
    """Loader options that read every CSV cell as the text it holds: '1' stays '1' (inferred types
    made it 1.0, which no --label-map key matched), '007' keeps its zeros, 'NA' is text, empty is ''."""
    from datasets import Features, Value

    header = next((row for _, row in _csv_records(path)), [])
    names = [name for name in dict.fromkeys(header) if name]  # pandas renames unnamed columns; none is flagged
    return {"features": Features({name: Value("string") for name in names}), "keep_default_na": False}


def _csv_row_lines(path: Path) -> list[int]:
    """The line each CSV record starts on (a quoted field may span lines); blank lines skipped. A row
    with more or fewer fields than the header is refused here, by its line, as `moderate label` refuses
    it: pandas counts lines its own way, and fills a short row's missing cells in silently."""
    starts: list[int] = []
    width = 0
    for start, row in _csv_records(path):
        if not starts:
            _check_header(row, path, start)
        if starts and len(row) != width:
            raise DataError(f"expected {width} fields as in the header, found {len(row)}", path=str(path),
                            line=start)
        width = width or len(row)
        starts.append(start)
    return starts


def _check_header(header: list[str], path: Path, line: int) -> None:
    """Refuse a CSV header naming a column twice (pandas renames the second 'text.1' and it is lost)."""
    twice = repeated_name([name for name in header if name])  # unnamed columns are pandas' to rename
    if twice is not None:
        raise DataError(f"column '{twice}' appears twice in the header", path=str(path), line=line)


def _csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Each CSV record with the line it starts on, skipping the lines the loader (pandas) skips: empty
    ones and those of spaces or tabs alone (a quoted '"  "' is a record)."""
    last_line = [""]

    def lines() -> Iterator[str]:
        for _, line in text_lines(path):
            last_line[0] = line
            yield line

    reader = csv.reader(lines())
    consumed = 0
    try:
        for row in reader:
            if reader.line_num > consumed + 1 or last_line[0].strip(" \t\r\n"):
                yield consumed + 1, row
            consumed = reader.line_num
    except csv.Error as error:
        raise DataError(f"not valid CSV ({error})", path=str(path), line=reader.line_num) from None


def _record(row: dict, line: int, spec: str, columns: ColumnMap, names: set[str],
            articles: dict[str, str]) -> dict:
    """One training record from an operator's row; bad values name the line and field."""
    text = row.get(columns.text)
    if not isinstance(text, str) or not text.strip():
        raise DataError("missing, empty or not text", path=spec, line=line, field=columns.text)
    label = _category(row.get(columns.label), columns.label_map, spec, line, columns.label)
    stance = row.get(columns.stance) if columns.stance in names else None
    stance = None if stance == "" else stance  # an empty CSV cell
    if stance is not None and stance not in STANCES:
        raise DataError(f"unknown stance {stance!r} (expected one of {', '.join(STANCES)})",
                        path=spec, line=line, field=columns.stance)
    title = row.get(columns.article_title) or ""
    body = row.get(columns.article_body) or ""
    article_id = _label_text(row.get(columns.article_id))  # 0 is an id; 12.0 (a pandas column with gaps) is 12
    known = articles.get(article_id) if article_id else None
    article = f"{title}\n\n{body}".strip() or known or None
    group = article_id if article_id else (hashlib.sha1(article.encode()).hexdigest()[:12]
                                           if article else f"{spec}:{line}")
    hard_case = row.get("hard_case")
    if hard_case is not None and not isinstance(hard_case, str):
        raise DataError(f"must be a tag (a string) or empty, got {hard_case!r}", path=spec, line=line,
                        field="hard_case")
    comment_id = _label_text(row.get(columns.id))  # 12.0 takes the decision on comment 12; NaN is no id
    comment_id = f"{spec}:{line}" if comment_id is None else comment_id  # never a decision's id
    return {"id": comment_id, "text": text, "category": label, "stance": stance,
            "article": article, "group": group, "source": spec, "hard_case": hard_case or None}


def _category(raw: object, label_map: dict[str, str], spec: str, line: int, column: str) -> str:
    """The category a row's raw label names, directly or through --label-map; an empty one is refused."""
    text = _label_text(raw)
    if text is None:
        raise DataError("missing or empty (every row needs a label)", path=spec, line=line, field=column)
    label = label_map.get(text, text)
    if label not in CATEGORIES:
        raise DataError(f"unknown label {raw!r} (expected one of {', '.join(CATEGORIES)}, or map "
                        "it with --label-map)", path=spec, line=line, field=column)
    return label


def _label_text(raw: object) -> str | None:
    """A raw label (or id) as a --label-map key writes it (JSON 1 and Parquet 1.0: '1'; true: 'true'),
    or None when it is missing, empty or NaN."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    text = str(raw)
    return text if text.strip() else None


def merge_feedback(labelled: LabelledData, decisions: list[dict], articles: dict[str, str],
                   location: str) -> tuple[LabelledData, list[str], list[str]]:
    """Labelled data with each decision merged into its comment's record (``_decided``) or added, and
    the label conflicts and other differences (text, article) as sentences."""
    by_id = {d["comment_id"]: d for d in decisions}
    conflicts, differences, kept, merged_ids, replaced_rows = [], [], [], set(), 0
    for record in labelled.records:
        decision = by_id.get(record["id"])
        if decision is None:
            kept.append(record)
            continue
        replaced_rows += 1
        if record["id"] in merged_ids:  # the id's later rows (in another source, or repeated): one decision, one row
            continue
        merged_ids.add(record["id"])
        conflicts.extend(_label_conflict(record, decision))
        differences.extend(_other_differences(record, decision, articles))
        kept.append(_decided(record, decision, articles))
    added = [d for d in decisions if d["comment_id"] not in merged_ids]
    differences.extend(f"{d['comment_id']}: article {d['article_id']} is not known here, so the comment is "
                       f"trained without it (by {d['moderator']})"
                       for d in added if d["article_id"] and d["article_id"] not in articles)
    kept.extend(_decision_record(d, articles) for d in added)
    covered = sorted({d["category"] for d in decisions})
    source = {"path": location.split("@")[-1], "kind": "feedback", "rows": len(decisions),
              "replaced": replaced_rows, "labels": covered}  # rows of earlier sources these decisions replaced
    return LabelledData(kept, labelled.sources + [source]), conflicts, differences


def _label_conflict(record: dict, decision: dict) -> list[str]:
    """The sentence saying a decision changes a record's label, if it does (a stance only one of the
    two gives is no conflict)."""
    stances_differ = None not in (decision["stance"], record["stance"]) and decision["stance"] != record["stance"]
    if decision["category"] == record["category"] and not stances_differ:
        return []
    was, now = f"{record['category']}/{record['stance']}", f"{decision['category']}/{decision['stance']}"
    return [f"{record['id']}: {was} in {record['source']} -> {now} by {decision['moderator']}"]


def _other_differences(record: dict, decision: dict, articles: dict[str, str]) -> list[str]:
    """The sentence saying a decision gives another text or article than the labelled record, if it does."""
    changes = []
    if decision["text"] != record["text"]:
        start = max(0, len(os.path.commonprefix([record["text"], decision["text"]])) - 10)  # show where they differ
        changes.append(f"text {_shortened(record['text'], start)} -> {_shortened(decision['text'], start)}")
    article_id = _other_article(record, decision, articles)
    if article_id:
        was = record["group"] if record["group"] in articles else "its own"  # else a hash of the article text
        changes.append(f"article {was} -> {article_id}" if article_id in articles else
                       f"article {article_id} is not known here, so the labelled comment's is kept")
    if not changes:
        return []
    return [f"{record['id']}: {'; '.join(changes)} (in {record['source']}, by {decision['moderator']})"]


def _shortened(text: str, start: int = 0, limit: int = 40) -> str:
    """A text quoted for a report line from ``start``, cut to ``limit`` characters."""
    shown = ("…" if start else "") + text[start:]
    return repr(shown if len(shown) <= limit else shown[:limit - 1] + "…")


def _decided(record: dict, decision: dict, articles: dict[str, str]) -> dict:
    """A labelled record with a decision's category, and its text, stance and article where it gives
    them (an article this machine knows); the record's stance, article, group and hard_case tag are
    kept where it does not."""
    merged = {**record, "text": decision["text"], "category": decision["category"], "source": "feedback"}
    if decision["stance"] is not None:
        merged["stance"] = decision["stance"]
    article_id = _other_article(record, decision, articles)
    if article_id in articles:
        merged.update(article=articles[article_id], group=article_id)
    return merged


def _other_article(record: dict, decision: dict, articles: dict[str, str]) -> str | None:
    """The decision's article id when it names another article than the record's (None otherwise). An
    inline article registered when its comment was queued, with the text the record gives by title and
    body, is the record's own: the record keeps its group, which its sibling comments share."""
    article_id = decision["article_id"]
    if not article_id or article_id == record["group"]:
        return None
    if article_id in articles and (record["article"] or "").strip() == articles[article_id].strip():
        return None
    return article_id


def _decision_record(decision: dict, articles: dict[str, str]) -> dict:
    """A training record for a decision on a comment the labelled data does not hold."""
    article_id = decision["article_id"]
    return {"id": decision["comment_id"], "text": decision["text"], "category": decision["category"],
            "stance": decision["stance"], "article": articles.get(article_id) if article_id else None,
            "group": article_id or f"feedback:{decision['comment_id']}", "source": "feedback"}
