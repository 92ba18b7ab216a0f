"""Batch labelling of comment archives: every row once, in input order, on every core, resumable.

Rows are labelled chunk by chunk into ``OUTPUT.partial.jsonl``; after each chunk is on disk a small
checkpoint (``OUTPUT.partial.json``) records how many rows and bytes are done. ``--resume`` cuts the
partial file back to the last checkpoint and goes on from the next row. Only a finished run renames
(or converts) the partial file to OUTPUT, so a partial output is never mistaken for a complete one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from model.artifact import atomic_write, file_in_the_way
from model.errors import DataError, ModerationError
from model.labels import CATEGORIES, STANCES
from model.moderation import floods
from model.text import LONE_SURROGATE
from service.archive import (
    ArchiveReader,
    Chunk,
    InputFile,
    free_name,
    known_columns,
    refuse_json_array,
)

ADDED_FIELDS = ("label", "scores", "stance", "stance_scores", "decision", "model_version", "error", "note")
SCORE_KEYS = {"scores": CATEGORIES, "stance_scores": STANCES}  # flattened in CSV to scores.<label> ...
FLAT_FIELDS = tuple(f"{field}.{key}" for field, keys in SCORE_KEYS.items() for key in keys)  # CSV columns
OUR_FIELDS = frozenset((*ADDED_FIELDS, *FLAT_FIELDS))  # an input field named like one is renamed
RESERVED_FIELDS = frozenset((*OUR_FIELDS, "raw"))  # an input row holding one is written anew
OUTPUT_KINDS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
MAX_DEPTH = 500  # levels of arrays and objects: well within Python's recursion limit when re-encoded


class LabellingError(ModerationError):
    """A labelling run cannot start or finish (bad options, a conflicting output, a changed input)."""


class NestedTooDeeply(ValueError):
    """A JSON line nests arrays and objects deeper than MAX_DEPTH (Python's JSON reader and writer
    recurse once per level, and fail with RecursionError not far beyond)."""

    def __init__(self) -> None:
        super().__init__(f"nested too deeply: more than {MAX_DEPTH} levels of arrays and objects")


@dataclass(frozen=True)
class Columns:
    """Which input fields hold the comment, its id and its article."""

    text: str = "text"
    id: str = "id"
    article_id: str = "article_id"
    article_title: str = "article_title"
    article_text: str = "article_text"


@dataclass
class Tally:
    """Rows labelled so far, by label and decision, and rows that could not be scored."""

    rows: int = 0
    errors: int = 0
    labels: Counter = field(default_factory=Counter)
    decisions: Counter = field(default_factory=Counter)
    columns: Counter = field(default_factory=Counter)  # rows having each column of Columns, by role

    def add(self, other: "Tally") -> None:
        """Fold another tally into this one."""
        self.rows += other.rows
        self.errors += other.errors
        self.labels.update(other.labels)
        self.decisions.update(other.decisions)
        self.columns.update(other.columns)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {"rows": self.rows, "errors": self.errors, "labels": dict(self.labels),
                "decisions": dict(self.decisions), "columns": dict(self.columns)}

    @classmethod
    def from_dict(cls, data: dict) -> "Tally":
        """The tally saved in a checkpoint."""
        return cls(data["rows"], data["errors"], Counter(data["labels"]), Counter(data["decisions"]),
                   Counter(data.get("columns", {})))


# --- labelling one chunk (runs in worker processes) -------------------------------------------------

class ChunkLabeller:
    """Labels chunks with a loaded model and the known articles' texts by id (picklable, so it can be
    sent to Dask workers)."""

    def __init__(self, moderator, articles: dict[str, str], columns: Columns) -> None:
        self.moderator = moderator
        self.articles = articles
        self.columns = columns

    def label(self, chunk: Chunk) -> tuple[bytes, Tally]:
        """The chunk's output rows as JSON Lines, and their tally."""
        rows, problems = _rows_of(chunk)
        texts, articles, scored, notes = [], [], [], {}
        for position, row in enumerate(rows):
            if position in problems:
                continue
            problem, text = self._text_of(row)
            if problem:
                problems[position] = problem
                continue
            article, note = self._article_of(row)
            if note:
                notes[position] = note
            texts.append(text)
            articles.append(article)
            scored.append(position)
        return self._write(chunk, rows, problems, notes, scored, texts, articles)

    def _text_of(self, row: dict) -> tuple[str | None, str | None]:
        """The comment text of a row, or the problem that keeps it from being scored."""
        name = self.columns.text
        if name not in row or row[name] is None:
            return f"field '{name}' is missing", None
        value = row[name]
        if not isinstance(value, str):
            return f"field '{name}' is not text (found {type(value).__name__})", None
        if not value.strip():
            return f"field '{name}' is empty", None
        return None, value

    def _article_of(self, row: dict) -> tuple[str | None, str | None]:
        """The article's text from inline title/text fields or a known article id; a note if unknown."""
        title, body = row.get(self.columns.article_title), row.get(self.columns.article_text)
        if title is not None or body is not None:
            inline = "\n\n".join(v for v in (title, body) if isinstance(v, str) and v.strip())
            if inline:
                return inline, None
        article_id = row.get(self.columns.article_id)
        if article_id in (None, ""):
            return None, None
        text = self.articles.get(str(article_id))
        if text is None:
            return None, f"article_id '{article_id}' is unknown: scored without its article"
        return text, None

    def _write(self, chunk: Chunk, rows: list[dict], problems: dict[int, str], notes: dict[int, str],
               scored: list[int], texts: list[str], articles: list[str | None]) -> tuple[bytes, Tally]:
        """The output lines of a chunk: each row's own JSON with our fields appended, in order."""
        tally = Tally(rows=len(rows), columns=self._columns_in(rows))
        results = dict(zip(scored, self._score(texts, articles))) if texts else {}
        version = json.dumps(self.moderator.version)
        lines = []
        for position, row in enumerate(rows):
            result = results.get(position)
            if result is not None:
                label, decision, added = result
                if position in notes:
                    added += f', "note": {ENCODER.encode(notes[position])}'
                tally.labels[label] += 1
                tally.decisions[decision] += 1
            else:
                error = f"{chunk.source}:{chunk.numbers[position]}: {problems[position]}"
                added = f'{UNSCORED}, "error": {ENCODER.encode(error)}'
                tally.errors += 1
            lines.append(_with_fields(_original_json(chunk, position, row), f"{added}, \"model_version\": {version}"))
        lines.append(b"")
        return b"\n".join(lines), tally

    def _columns_in(self, rows: list[dict]) -> Counter:
        """How many rows have each column of ``self.columns``, by role."""
        return Counter({role: sum(name in row for row in rows) for role, name in asdict(self.columns).items()})

    def _score(self, texts: list[str], articles: list[str | None]) -> list[tuple[str, str, str]]:
        """(label, decision, the added fields as JSON text without braces) of each text."""
        predictions = self.moderator.classifier.predict(texts, articles)
        category = predictions.category.round(6)
        labels = [CATEGORIES[i] for i in category.argmax(axis=1).tolist()]
        category_rows = category.tolist()
        decisions = self.moderator.policy.decide_all(category[:, CATEGORIES.index("abusive")],
                                                     category[:, CATEGORIES.index("whataboutism")],
                                                     category.max(axis=1), floods(predictions))
        if self.moderator.classifier.stance_trained_:
            stance = predictions.stance.round(6)
            stances = [f'"{STANCES[i]}"' for i in stance.argmax(axis=1).tolist()]
            stance_rows = [STANCE_SCORES % tuple(row) for row in stance.tolist()]
        else:
            stances = stance_rows = ["null"] * len(texts)
        return [(label, decision, SCORED % (label, *scores, stance, stance_scores, decision))
                for label, scores, stance, stance_scores, decision in
                zip(labels, category_rows, stances, stance_rows, decisions)]


DECODER = json.JSONDecoder()
ENCODER = json.JSONEncoder(ensure_ascii=False, default=lambda value: _json_default(value))
STANCE_SCORES = "{" + ", ".join(f'"{s}": %r' for s in STANCES) + "}"
SCORED = ('"label": "%s", "scores": {' + ", ".join(f'"{c}": %r' for c in CATEGORIES)
          + '}, "stance": %s, "stance_scores": %s, "decision": "%s"')
UNSCORED = '"label": null, "scores": null, "stance": null, "stance_scores": null, "decision": null'


def _original_json(chunk: Chunk, position: int, row: dict) -> bytes:
    """The row's own fields as a JSON object: the input line itself when it can be reused as is (not
    one after a byte-order mark, which json.loads reads in bytes but not in text)."""
    if chunk.lines is not None and RESERVED_FIELDS.isdisjoint(row):
        line = chunk.lines[position].strip()
        if line.startswith(b"{") and line.endswith(b"}"):
            return line
    return _utf8(ENCODER.encode(_keep_original(row)))


def _with_fields(original: bytes, added: str) -> bytes:
    """A JSON object's text with more fields appended before its closing brace."""
    body = original[:-1].rstrip()
    separator = b", " if body[-1:] != b"{" else b""
    return body + separator + _utf8(added) + b"}"


def _utf8(json_text: str) -> bytes:
    """JSON text as UTF-8, a lone surrogate (only ever inside a string) written as its \\u escape:
    the same JSON value, where encoding it raw would make the line invalid UTF-8."""
    try:
        return json_text.encode("utf-8")
    except UnicodeEncodeError:
        return LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", json_text).encode("utf-8")


def _rows_of(chunk: Chunk) -> tuple[list[dict], dict[int, str]]:
    """The chunk's rows as dicts, and the problems of rows that are not JSON objects."""
    problems = dict(chunk.problems)
    if chunk.rows is not None:
        return chunk.rows, problems
    if chunk.batch is not None:
        return _batch_rows(chunk.batch, problems), problems
    rows = []
    for position, line in enumerate(chunk.lines):
        try:
            row = _parsed(line)
        except ValueError as error:
            rows.append({"raw": line.decode("utf-8", "replace").rstrip("\r\n")})
            problems[position] = str(error) if isinstance(error, NestedTooDeeply) else f"not valid JSON ({error})"
            continue
        if not isinstance(row, dict):
            rows.append({"raw": row})
            problems[position] = f"expected a JSON object, found {type(row).__name__}"
            continue
        rows.append(row)
    return rows, problems


def _batch_rows(batch, problems: dict[int, str]) -> list[dict]:
    """An Arrow batch's rows as dicts; a row holding text that is not UTF-8 (a Parquet writer need not
    check) keeps its fields, the bad bytes as U+FFFD, with a problem naming the field."""
    try:
        return batch.to_pylist()
    except UnicodeDecodeError:
        pass
    rows = []
    for position in range(batch.num_rows):
        row = {}
        for name, column in zip(batch.schema.names, batch.slice(position, 1).columns):
            try:
                row[name] = column.to_pylist()[0]
            except UnicodeDecodeError as error:
                row[name] = _replaced_text(column)
                problems.setdefault(position, f"field '{name}': not valid UTF-8 "
                                              f"(byte 0x{error.object[error.start]:02x})")
        rows.append(row)
    return rows


def _replaced_text(column):
    """A one-value text column's value with bytes that are not UTF-8 as U+FFFD (None if nested)."""
    import pyarrow as pa

    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return None
    binary = pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary()
    return column.view(binary).to_pylist()[0].decode("utf-8", "replace")


def _parsed(line: bytes):
    """A JSON line's value: decoded straight from UTF-8 when it can be (twice as fast as
    ``json.loads`` on bytes), else by ``json.loads``, whose errors name what is wrong."""
    try:
        value = _decoded(line)
    except RecursionError:
        raise NestedTooDeeply() from None
    if line.count(b"[") + line.count(b"{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise NestedTooDeeply()
    return value


def _decoded(line: bytes):
    """A JSON line's value (see _parsed)."""
    try:
        text = line.decode("utf-8")
        value, end = DECODER.raw_decode(text)
        if end == len(text) or text[end:].isspace():
            return value
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        pass
    return json.loads(line)


def _depth(value) -> int:
    """How many levels of arrays and objects a value nests (without recursing)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _keep_original(row: dict) -> dict:
    """The row's own fields; one whose name the labeller adds is kept as ``input_<name>``, prefixed
    again while that name is taken too (a renamed field never replaces another)."""
    if OUR_FIELDS.isdisjoint(row):
        return dict(row)
    taken = set(row)
    kept = {}
    for name, value in row.items():
        if name in OUR_FIELDS:
            name = free_name(f"input_{name}", taken, "input_")
            taken.add(name)
        kept[name] = value
    return kept


def _json_default(value):
    """JSON for values Arrow inputs can hold: dates and times as ISO text, bytes as text, numbers."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if hasattr(value, "item"):
        return value.item()
    return str(value)


_labeller: ChunkLabeller | None = None


def _start_worker(model_dir: Path, data_dir: Path, columns: Columns) -> None:
    """Load the model once in a worker process (a forked worker inherits the parent's, sharing its
    memory); Ctrl-C is the parent's to handle."""
    global _labeller
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    one_blas_thread()
    if _labeller is None or _labeller.columns != columns:
        _labeller = make_labeller(model_dir, data_dir, columns)


def _exit_with_parent(parent: int) -> None:
    """End this worker once the labelling process is gone: killed (kill -9, SIGTERM), it left its
    workers waiting for chunks, and holding a model's memory each, for ever."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _label_in_worker(chunk: Chunk) -> tuple[bytes, Tally]:
    """Label a chunk with this worker process's labeller."""
    return _labeller.label(chunk)


def make_labeller(model_dir: Path, data_dir: Path, columns: Columns) -> ChunkLabeller:
    """A labeller with the serving model and the known articles."""
    from service.articles import ArticleStore
    from service.models import load_serving_model

    moderator, _ = load_serving_model(model_dir, data_dir)
    return ChunkLabeller(moderator, ArticleStore(data_dir).texts(), columns)


def label_locally(chunks: Iterable[Chunk], labeller: ChunkLabeller, jobs: int, model_dir: Path,
                  data_dir: Path, columns: Columns) -> Iterator[tuple[bytes, Tally, int]]:
    """Labelled chunks in input order: in this process, or on ``jobs`` worker processes with a
    bounded number of chunks in flight (memory stays bounded whatever the input's size)."""
    one_blas_thread()
    if jobs <= 1:
        for chunk in chunks:
            yield (*labeller.label(chunk), len(chunk))
        return
    global _labeller
    _labeller = labeller
    with ProcessPoolExecutor(jobs, initializer=_start_worker,
                             initargs=(model_dir, data_dir, columns)) as pool:
        yield from in_order(lambda chunk: pool.submit(_label_in_worker, chunk), chunks, 2 * jobs)


def one_blas_thread() -> None:
    """Keep this process's BLAS to one thread: the workers already fill the cores, and BLAS threads
    spinning beside them cost a sixth to a fifth of a run's time (`benchmarks/speed_label.py`)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def in_order(submit: Callable[[Chunk], object], chunks: Iterable[Chunk], in_flight: int
             ) -> Iterator[tuple[bytes, Tally, int]]:
    """Results of ``submit(chunk)`` futures in input order, with at most ``in_flight`` pending."""
    pending: deque = deque()
    try:
        for chunk in chunks:
            pending.append((submit(chunk), len(chunk)))
            if len(pending) >= in_flight:
                future, n = pending.popleft()
                yield (*future.result(), n)
        while pending:
            future, n = pending.popleft()
            yield (*future.result(), n)
    finally:
        for future, _ in pending:
            future.cancel()


# --- the output file ---------------------------------------------------------------------------------

class PartialOutput:
    """The partial JSON Lines file and its checkpoint; renamed or converted to OUTPUT when done."""

    def __init__(self, out: Path, fingerprint: dict) -> None:
        self.out = out
        self.kind = output_kind(out)
        self.partial = out.with_name(out.name + ".partial.jsonl")
        self.checkpoint = out.with_name(out.name + ".partial.json")
        self.fingerprint = fingerprint
        self.tally = Tally()
        self.bytes_done = 0
        self._handle = None

    def start(self, *, resume: bool, overwrite: bool) -> int:
        """Open the partial file; return how many input rows are already done."""
        if self.out.is_dir():
            raise LabellingError(f"{self.out} is a folder: give --out a file name, such as {self.out / 'labelled.jsonl'}")
        blocking = file_in_the_way(self.out)
        if blocking is not None:
            raise LabellingError(f"{blocking} is a file, so {self.out} cannot be written inside it")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if self._finished_before_stopped() and resume:
            raise LabellingError(f"nothing to resume: {self.out} was written in full before the run was "
                                 f"stopped (the checkpoint it left is removed)")
        if resume and self.checkpoint.exists():
            self._load_checkpoint()
        elif resume:
            raise LabellingError(f"nothing to resume: no checkpoint {self.checkpoint} from an interrupted "
                                 f"run (run without --resume to start)")
        elif self.checkpoint.exists() or self.partial.exists():
            if not overwrite:
                raise LabellingError(f"{self.partial} is left from an interrupted run: continue it with "
                                     f"--resume, or start over with --overwrite")
        if self.out.exists() and not overwrite and not resume:
            raise LabellingError(f"{self.out} already exists: choose another --out or pass --overwrite")
        self._handle = open(self.partial, "r+b" if resume else "wb")
        self._handle.truncate(self.bytes_done)
        self._handle.seek(self.bytes_done)
        if not resume:
            self._save_checkpoint()
        return self.tally.rows

    def _finished_before_stopped(self) -> bool:
        """Whether the checkpoint is all a run left that was stopped after writing OUTPUT in full and
        before removing it; such a checkpoint is removed (a run is never resumed past its end)."""
        try:
            finished = json.loads(self.checkpoint.read_text(encoding="utf-8")).get("finished") is True
        except (OSError, ValueError, AttributeError):  # none, or damaged: _load_checkpoint says so
            return False
        if not finished or self.partial.exists() or not self.out.exists():
            return False
        self.checkpoint.unlink()
        return True

    def _load_checkpoint(self) -> None:
        """Read the checkpoint of an interrupted run; refuse if its input, columns or model changed."""
        try:
            saved = json.loads(self.checkpoint.read_text(encoding="utf-8"))
            tally, bytes_done, fingerprint = saved["tally"], saved["bytes_done"], saved["fingerprint"]
        except (ValueError, KeyError, TypeError) as error:
            raise LabellingError(f"{self.checkpoint} is damaged ({error}); start over with --overwrite") from None
        changed = [k for k in sorted(set(fingerprint) | set(self.fingerprint))
                   if fingerprint.get(k) != self.fingerprint.get(k)]
        if changed:
            raise LabellingError(f"cannot resume: {', '.join(changed)} changed since the interrupted run "
                                 f"(start over with --overwrite)")
        if not self.partial.exists() or self.partial.stat().st_size < bytes_done:
            raise LabellingError(f"cannot resume: {self.partial} is missing or shorter than its checkpoint; "
                                 f"start over with --overwrite")
        self.tally, self.bytes_done = Tally.from_dict(tally), bytes_done

    def append(self, data: bytes, tally: Tally) -> None:
        """Write labelled rows, make them durable, then move the checkpoint past them."""
        self._handle.write(data)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.bytes_done += len(data)
        self.tally.add(tally)
        self._save_checkpoint()

    def _save_checkpoint(self, *, finished: bool = False) -> None:
        """Write the checkpoint atomically (a temporary file renamed over the old one); ``finished``
        marks it as the last, written just before OUTPUT is."""
        saved = json.dumps({"fingerprint": self.fingerprint, "bytes_done": self.bytes_done,
                            "tally": self.tally.to_dict(), **({"finished": True} if finished else {})})
        atomic_write(self.checkpoint, lambda temporary: Path(temporary).write_text(saved, encoding="utf-8"))

    def close(self) -> None:
        """Close the partial file (it and its checkpoint stay for --resume)."""
        if self._handle:
            self._handle.close()
            self._handle = None

    def discard(self) -> None:
        """Remove the partial file and its checkpoint."""
        self.close()
        for path in (self.partial, self.checkpoint):
            path.unlink(missing_ok=True)

    def finish(self) -> list[str]:
        """Turn the complete partial file into OUTPUT (atomically), then drop the checkpoint; return
        notes on the conversion."""
        self.close()
        self._save_checkpoint(finished=True)  # if stopped before the checkpoint goes, the next run knows
        notes: list[str] = []
        if self.kind == "jsonl":
            os.replace(self.partial, self.out)
        else:
            convert = _write_csv if self.kind == "csv" else _write_parquet
            atomic_write(self.out, lambda temporary: notes.extend(convert(self.partial, Path(temporary))))
            self.partial.unlink()
        self.checkpoint.unlink()
        return notes


def output_kind(out: Path) -> str:
    """jsonl, csv or parquet, from the output's extension."""
    kind = OUTPUT_KINDS.get(out.suffix.lower())
    if kind is None:
        raise LabellingError(f"{out}: unsupported output extension '{out.suffix}'; use .jsonl, .csv or .parquet")
    return kind


def _partial_rows(partial: Path, batch: int = 5000) -> Iterator[list[dict]]:
    """The labelled rows of the partial file, ``batch`` at a time."""
    with open(partial, "rb") as handle:
        rows = []
        for line in handle:
            row = json.loads(line)
            rows.append(_replaced_surrogates(row) if ESCAPED_SURROGATE.search(line) else row)
            if len(rows) == batch:
                yield rows
                rows = []
        if rows:
            yield rows


def _replaced_surrogates(value):
    """A row with every lone surrogate in its text replaced by U+FFFD: CSV and Parquet text is UTF-8,
    which cannot hold one (the JSON Lines output keeps it, escaped)."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_replaced_surrogates(k): _replaced_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced_surrogates(v) for v in value]
    return value


def _write_csv(partial: Path, target: Path) -> list[str]:
    """Convert the labelled JSON Lines to CSV: nested scores become ``scores.<label>`` columns (no
    notes); with no rows, the header names the columns labelling adds (a file of one empty line was
    no CSV that a reader takes)."""
    import csv

    columns: dict[str, None] = {}
    for rows in _partial_rows(partial):
        for row in rows:
            columns.update(dict.fromkeys(_flat(row)))
    if not columns:
        columns = dict.fromkeys(_flat(dict.fromkeys(ADDED_FIELDS)))
    with open(target, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        for rows in _partial_rows(partial):
            writer.writerows(_flat(row) for row in rows)
    return []


def _flat(row: dict) -> dict:
    """A row for CSV: scores as ``scores.<label>`` columns, other nested values as JSON text."""
    flat = {}
    for key, value in row.items():
        if key in SCORE_KEYS and isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        elif key in SCORE_KEYS and value is None:  # a row not scored: the same columns, empty
            flat.update({f"{key}.{k}": None for k in SCORE_KEYS[key]})
        elif isinstance(value, (dict, list)):
            flat[key] = json.dumps(value, ensure_ascii=False)
        else:
            flat[key] = value
    return flat


def _write_parquet(partial: Path, target: Path) -> list[str]:
    """Convert the labelled JSON Lines to Parquet, with one schema over every row; a column whose
    values share no type is written as text. Returns a note naming such columns (or none)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types, texts = _parquet_types(partial)
    schema = pa.schema(list(types.items()))
    try:
        with pq.ParquetWriter(target, schema) as writer:
            for rows in _partial_rows(partial):
                writer.write_table(pa.Table.from_pylist([_with_text(row, texts) for row in rows], schema=schema))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        raise LabellingError(f"the rows cannot be written to Parquet ({error}); every row is labelled in "
                             f"{partial}: convert it yourself or label to .jsonl") from None
    if not texts:
        return []
    note = "columns whose values have different types are written to Parquet as text (objects and lists as JSON)"
    return [f"{note}: {', '.join(sorted(texts))}"]


def _parquet_types(partial: Path) -> tuple[dict, set[str]]:
    """Each column's Arrow type, unified over every row, and the columns whose values share none
    (typed as text)."""
    import pyarrow as pa

    types: dict = {}
    texts: set[str] = set()
    for rows in _partial_rows(partial):
        for name in dict.fromkeys(name for row in rows for name in row):
            if name in texts:
                continue
            found = _shared_type(types.get(name), [row.get(name) for row in rows])
            if found is None:
                texts.add(name)
            types[name] = pa.string() if found is None else found
    return types, texts


def _shared_type(known, values: list):
    """The Arrow type of ``values`` unified with the ``known`` type (None: not known yet); None
    when they share none (a number and a string, an object and a string, ...)."""
    import pyarrow as pa

    try:
        found = pa.array(values).type
        if known is None:
            return found
        merged = pa.unify_schemas([pa.schema([("c", known)]), pa.schema([("c", found)])],
                                  promote_options="permissive")
        return merged.field("c").type
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None


def _with_text(row: dict, texts: set[str]) -> dict:
    """The row with the values of ``texts`` columns as text: JSON for objects and lists, str() for
    other values, None kept."""
    if not texts:
        return row
    return {name: _as_text(value) if name in texts else value for name, value in row.items()}


def _as_text(value):
    """A value as text (None stays None)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# --- a run -------------------------------------------------------------------------------------------

@dataclass
class RunResult:
    """What a run did."""

    out: Path
    tally: Tally
    seconds: float
    resumed_from: int
    notes: list[str] = field(default_factory=list)


def fingerprint_of(inputs: list[InputFile], columns: Columns, model_version: str, split: str | None) -> dict:
    """What must not change between an interrupted run and its --resume."""
    return {"input": [i.identity for i in inputs],
            "columns": asdict(columns), "model version": model_version, "split": split}


def _until_unreadable(chunks: Iterable[Chunk], unreadable: list[DataError]) -> Iterator[Chunk]:
    """The chunks up to an input that cannot be read further, whose error is put in ``unreadable``
    (raised once the chunks already read, some still being labelled, are saved)."""
    try:
        yield from chunks
    except DataError as error:
        unreadable.append(error)


def run_labelling(reader: ArchiveReader, output: PartialOutput, label: Callable[[Iterable[Chunk]], Iterator],
                  *, resume: bool, overwrite: bool, progress: Callable[[int, float, float], None]) -> RunResult:
    """Label every row not yet done into ``output``; finish it when the input is exhausted."""
    done = output.start(resume=resume, overwrite=overwrite)
    started, labelled, unreadable = time.perf_counter(), 0, []
    try:
        for data, tally, _ in label(_until_unreadable(reader.chunks(skip=done), unreadable)):
            output.append(data, tally)
            labelled += tally.rows
            progress(output.tally.rows, labelled / max(time.perf_counter() - started, 1e-9),
                     reader.fraction_done)
        if unreadable and output.tally.rows:
            raise LabellingError(f"{unreadable[0]}; the {output.tally.rows:,} rows before it are labelled, "
                                 f"in {output.partial}")
        if unreadable:
            raise unreadable[0]
    except BaseException:
        output.close()
        if output.tally.rows == 0:
            output.discard()  # nothing was labelled: leave no partial output to resume
        raise
    notes = output.finish()
    return RunResult(output.out, output.tally, time.perf_counter() - started, done, notes)


class Progress:
    """A one-line progress display on a terminal (rows, rows per second, share done, time left)."""

    def __init__(self, enabled: bool, stream=sys.stderr) -> None:
        self.enabled = enabled
        self.stream = stream
        self._last = 0.0

    def __call__(self, rows: int, rate: float, fraction: float) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.2:
            return
        self._last = now
        left = (1 - fraction) / fraction * (rows / max(rate, 1e-9)) if fraction > 0 else 0
        self.stream.write(f"\r{rows:>12,} rows  {rate:>9,.0f} rows/s  {fraction:>4.0%}  "
                          f"{_duration(left)} left ")
        self.stream.flush()

    def close(self) -> None:
        """End the progress line."""
        if self.enabled:
            self.stream.write("\n")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def check_columns(inputs: list[InputFile], columns: Columns) -> None:
    """Refuse, before labelling, an input whose columns are known up front (CSV, Parquet) and lack
    one that a column flag names (the text column always; the others unless left at their default),
    and a JSON Lines input holding a JSON array."""
    for item in inputs:
        refuse_json_array(item)
        names = known_columns(item)
        missing = [(role, name) for role, name in _named_columns(columns) if names is not None and name not in names]
        if missing:
            role, name = missing[0]
            raise LabellingError(f"{item.path}: no column '{name}' ({_flag(role)}); its columns are: "
                                 f"{', '.join(names)}")


def _named_columns(columns: Columns) -> list[tuple[str, str]]:
    """(role, column) of the text column and of the other columns not left at their default."""
    defaults = asdict(Columns())
    return [(role, name) for role, name in asdict(columns).items() if role == "text" or name != defaults[role]]


def _flag(role: str) -> str:
    """The command-line flag of a column role."""
    return f"--{role.replace('_', '-')}-column"


def column_notes(tally: Tally, columns: Columns) -> list[str]:
    """Notes on columns the flags name that no row had (JSON Lines: no header to check up front)."""
    if not tally.rows:
        return []
    return [f"no row has the column '{name}' ({_flag(role)})" for role, name in _named_columns(columns)
            if role in tally.columns and not tally.columns[role]]


def summary_lines(result: RunResult) -> list[str]:
    """The end-of-run summary."""
    tally = result.tally
    rate = (tally.rows - result.resumed_from) / max(result.seconds, 1e-9)
    lines = [f"labelled {tally.rows:,} rows into {result.out} in {result.seconds:.1f}s ({rate:,.0f} rows/s)"
             + (f"; resumed after row {result.resumed_from:,}" if result.resumed_from else "")]
    lines.append("by label: " + ", ".join(f"{k} {tally.labels.get(k, 0):,}" for k in CATEGORIES))
    lines.append("by decision: " + ", ".join(f"{k} {v:,}" for k, v in sorted(tally.decisions.items())))
    lines.append(f"rows not scored (see their 'error' field): {tally.errors:,}")
    return lines + [f"note: {note}" for note in result.notes]


def check_jobs(jobs: int | None) -> int:
    """The number of worker processes: every core by default."""
    if jobs is None:
        return os.cpu_count() or 1
    if jobs < 1:
        raise DataError(f"--jobs must be at least 1, got {jobs}")
    return jobs
