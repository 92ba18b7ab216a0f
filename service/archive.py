"""Reading comment archives as ordered chunks of rows: JSON Lines, CSV (either gzip-compressed),
Parquet and `datasets` folders, from a file, a directory or a glob, in bounded memory."""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import io
import os
import re
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from model.corpus import is_saved_dataset, repeated_name
from model.errors import DataError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
KINDS = {**{s: "jsonl" for s in JSONL_SUFFIXES}, ".csv": "csv", ".parquet": "parquet"}
SUPPORTED = ".jsonl, .ndjson, .json, .csv (any of them .gz), .parquet or a `datasets` folder"
CSV_FIELD_LIMIT = 64 * 1024 * 1024
DAMAGED_GZIP = (EOFError, gzip.BadGzipFile, zlib.error)  # a gzip stream cut short, damaged or not gzip
NOT_UTF8 = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as decoded with surrogateescape


@dataclass(frozen=True)
class InputFile:
    """One file (or `datasets` folder) of an archive: a local path, or a URL on a filesystem that
    fsspec knows (s3://, gs://, az://, memory://, ...)."""

    path: Path | str
    kind: str  # "jsonl", "csv", "parquet" or "datasets"
    compressed: bool = False
    fs: object | None = None  # the fsspec filesystem of a URL

    @property
    def size(self) -> int:
        """Bytes stored (a folder: the sum of its files)."""
        if self.fs is not None:
            return int(self.fs.size(self.path) or 0)
        if self.path.is_dir():
            return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return self.path.stat().st_size

    @property
    def identity(self) -> list:
        """What identifies this file's content for --resume: location, size and modification stamp."""
        if self.fs is not None:
            return [self.fs.unstrip_protocol(self.path), self.size, str(self.fs.ukey(self.path))]
        return [str(self.path.resolve()), self.size, int(self.path.stat().st_mtime_ns)]

    def open(self):
        """The raw bytes."""
        return self.fs.open(self.path, "rb") if self.fs is not None else open(self.path, "rb")


@dataclass
class Chunk:
    """Consecutive rows of one input, in a form cheap to send to a worker process.

    ``lines``: raw JSON Lines (bytes); ``rows``: parsed CSV rows; ``batch``: an Arrow record batch.
    ``numbers``: each row's line number (JSON Lines, CSV) or row number (Arrow), for error messages.
    """

    source: str
    numbers: list[int]
    lines: list[bytes] | None = None
    rows: list[dict] | None = None
    batch: object | None = None
    problems: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.numbers)


def resolve_inputs(spec: str) -> list[InputFile]:
    """The files an INPUT argument names: a file, a `datasets` folder, a folder of files, or a glob;
    local, or a URL such as s3://bucket/comments/*.parquet."""
    if "://" in spec:
        return _resolve_url(spec)
    path = Path(spec)
    if path.is_dir():
        if is_saved_dataset(path):
            return [InputFile(path, "datasets")]
        files = sorted(p for p in path.iterdir() if p.is_file() and _kind_of(p))
        if not files:
            raise DataError(f"no {SUPPORTED} files in this folder", path=spec)
        return [_input_file(p) for p in files]
    if path.exists():
        return [_input_file(path)]
    if glob.has_magic(spec):
        matches = sorted(Path(p) for p in glob.glob(spec, recursive=True))
        usable = [p for p in matches if (p.is_file() and _kind_of(p)) or is_saved_dataset(p)]
        if not usable:
            raise DataError(f"no {SUPPORTED} files match this pattern", path=spec)
        return [InputFile(p, "datasets") if p.is_dir() else _input_file(p) for p in usable]
    raise DataError("no such file or folder", path=spec)


def inputs_besides_output(inputs: list[InputFile], out: Path) -> list[InputFile]:
    """The inputs without this run's own output files (a glob or folder can match them: a second
    run would read the first one's output, partial file or checkpoint back); an output that is an
    input named alone is refused."""
    own = {os.path.abspath(out.with_name(out.name + suffix))
           for suffix in ("", ".partial.jsonl", ".partial.json")}
    kept = [item for item in inputs if os.path.abspath(item.path) not in own]
    if not kept:
        raise DataError("is both the input and the output: choose another --out", path=str(out))
    return kept


def _resolve_url(spec: str) -> list[InputFile]:
    """The files a URL names, through fsspec (its filesystem's package must be installed)."""
    import fsspec

    try:
        fs, _, paths = fsspec.get_fs_token_paths(spec)
    except (ImportError, ValueError) as error:
        raise DataError(f"cannot open this location ({error})", path=spec) from None
    if len(paths) == 1 and fs.isdir(paths[0]):
        paths = sorted(fs.find(paths[0]))
    files = [p for p in sorted(paths) if _kind_of(Path(p))]
    if not files:
        raise DataError(f"no {SUPPORTED} files here (`datasets` folders must be local)", path=spec)
    return [InputFile(p, _kind_of(Path(p)), p.endswith(".gz"), fs) for p in files]


def _input_file(path: Path) -> InputFile:
    kind = _kind_of(path)
    if kind is None:
        raise DataError(f"unsupported input; expected {SUPPORTED}", path=str(path))
    return InputFile(path, kind, compressed=path.suffix == ".gz")


def _kind_of(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
        return KINDS.get(suffixes[-1]) if suffixes and suffixes[-1] != ".parquet" else None
    return KINDS.get(suffixes[-1]) if suffixes else None


class ArchiveReader:
    """Ordered chunks of an archive's rows, skipping the first ``skip`` rows (for resuming)."""

    def __init__(self, inputs: list[InputFile], chunk_rows: int = 5000, split: str | None = None) -> None:
        self.inputs = inputs
        self.chunk_rows = chunk_rows
        self.split = split
        self.total_bytes = sum(i.size for i in inputs) or 1
        self._done_bytes = 0
        self._position = lambda: 0

    @property
    def fraction_done(self) -> float:
        """Share of the input's bytes read so far."""
        return min(1.0, (self._done_bytes + self._position()) / self.total_bytes)

    def chunks(self, skip: int = 0) -> Iterator[Chunk]:
        """Every row after the first ``skip``, in order, ``chunk_rows`` at a time."""
        for item in self.inputs:
            reader = {"jsonl": self._jsonl, "csv": self._csv, "parquet": self._parquet,
                      "datasets": self._datasets}[item.kind]
            for chunk in _decompressed(reader(item), item):
                if skip >= len(chunk):
                    skip -= len(chunk)
                    continue
                if skip:
                    chunk = _tail(chunk, skip)
                    skip = 0
                yield chunk
            self._done_bytes += item.size
            self._position = lambda: 0

    def _open_binary(self, item: InputFile):
        """The file's bytes, decompressed if gzipped; progress follows the raw file's position."""
        raw = item.open()
        self._position = lambda: 0 if raw.closed else raw.tell()
        return gzip.GzipFile(fileobj=raw) if item.compressed else raw

    def _jsonl(self, item: InputFile) -> Iterator[Chunk]:
        """Chunks of raw JSON Lines (blank lines are not rows); ``check_columns`` has refused a JSON array."""
        with self._open_binary(item) as handle:
            lines, numbers = [], []
            try:
                for number, line in enumerate(handle, start=1):
                    if number == 1 and line.startswith(codecs.BOM_UTF8):
                        line = line[len(codecs.BOM_UTF8):]
                    if not line.strip():
                        continue
                    lines.append(line)
                    numbers.append(number)
                    if len(lines) == self.chunk_rows:
                        yield Chunk(str(item.path), numbers, lines=lines)
                        lines, numbers = [], []
            except DAMAGED_GZIP:  # the rows read before the damage are labelled too
                if lines:
                    yield Chunk(str(item.path), numbers, lines=lines)
                raise
            if lines:
                yield Chunk(str(item.path), numbers, lines=lines)

    def _csv(self, item: InputFile) -> Iterator[Chunk]:
        """Chunks of CSV rows as dicts; a row with the wrong number of fields, a byte that is not
        UTF-8 or a quoted field never closed is kept with a problem."""
        csv.field_size_limit(CSV_FIELD_LIMIT)
        with self._open_binary(item) as binary:
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
            read: list[str] = []  # the lines of the row being read
            reader = csv.reader(_remembered(text, read))
            header = next((row for row in reader if row), None)  # blank lines before it hold no row
            if header is None:
                return
            _check_header(header, item.path, reader.line_num)
            read.clear()
            extra = free_name("_extra_fields", header, "_")
            rows, numbers, problems, last_lines, end = [], [], {}, [], reader.line_num
            try:
                for values in reader:
                    last_lines, read[:] = list(read), []
                    start, end = end + 1, reader.line_num  # a row is named by the line it starts on
                    if not values:
                        continue
                    if len(rows) == self.chunk_rows:  # yielded once the next row is in: the last is checked below
                        yield Chunk(str(item.path), numbers, rows=rows, problems=problems)
                        rows, numbers, problems = [], [], {}
                    problem = _csv_row_problem(values, len(header))
                    if problem:
                        problems[len(rows)] = problem
                    rows.append(dict(zip(header, values)) if len(values) <= len(header) else
                                {**dict(zip(header, values)), extra: values[len(header):]})
                    numbers.append(start)
            except (csv.Error, *DAMAGED_GZIP) as error:  # the rows read before it are labelled too
                if rows:
                    yield Chunk(str(item.path), numbers, rows=rows, problems=problems)
                if isinstance(error, csv.Error):
                    raise DataError(f"unreadable CSV ({error})",
                                    path=str(item.path), line=reader.line_num) from None
                raise
            if rows:
                if _ends_in_a_quoted_field(last_lines):
                    problems[len(rows) - 1] = (f"a quoted field is never closed, so the rest of the file (to line "
                                               f"{end}) was read into this row")
                yield Chunk(str(item.path), numbers, rows=rows, problems=problems)

    def _parquet(self, item: InputFile) -> Iterator[Chunk]:
        """Chunks of a Parquet file as Arrow record batches; damaged data stops it with DataError
        naming the file and the first row not read (the rows before it are labelled)."""
        import pyarrow as pa

        parquet = _parquet_file(item)
        total, seen = max(parquet.metadata.num_rows, 1), 0
        self._position = lambda: int(item.size * seen / total)
        batches = parquet.iter_batches(batch_size=self.chunk_rows)
        while True:
            try:
                batch = next(batches, None)
            except (OSError, pa.ArrowException) as error:  # a page that is corrupt, cut or mis-encoded
                raise DataError(f"damaged Parquet data from this row on ({error})".replace("\n", " "),
                                path=str(item.path), line=seen + 1) from None
            if batch is None:
                return
            yield Chunk(str(item.path), list(range(seen + 1, seen + batch.num_rows + 1)), batch=batch)
            seen += batch.num_rows

    def _datasets(self, item: InputFile) -> Iterator[Chunk]:
        """Chunks of a folder saved by `datasets` (one split of a DatasetDict) as Arrow batches."""
        import datasets

        datasets.disable_progress_bars()  # its bars would write over the labelling progress line
        try:
            loaded = datasets.load_from_disk(str(item.path))
        except (OSError, ValueError, LookupError, TypeError) as error:  # damaged (pyarrow), or empty (datasets)
            raise DataError(f"cannot read this `datasets` folder ({type(error).__name__}: {error})",
                            path=str(item.path)) from None
        if isinstance(loaded, datasets.DatasetDict):
            if self.split not in loaded:
                missing = "" if self.split is None else f"has no split '{self.split}': "
                raise DataError(f"{missing}this `datasets` folder holds splits {sorted(loaded)}: choose one "
                                f"with --split", path=str(item.path))
            loaded = loaded[self.split]
        elif self.split is not None:  # labelling every row would pass for the split asked for
            raise DataError(f"this `datasets` folder holds one dataset, no split '{self.split}': drop --split "
                            "to label every row", path=str(item.path))
        arrow, total = loaded.with_format("arrow"), max(len(loaded), 1)
        for start in range(0, len(loaded), self.chunk_rows):
            self._position = lambda: int(item.size * start / total)
            batches = arrow[start:start + self.chunk_rows].combine_chunks().to_batches()
            if batches:
                yield Chunk(str(item.path), list(range(start + 1, start + batches[0].num_rows + 1)),
                            batch=batches[0])


class JsonArrayError(DataError):
    """A JSON Lines input (by its name) that holds one JSON array instead of one object per line."""

    def __init__(self, path: str) -> None:
        super().__init__("is a JSON array, not JSON Lines (one object per line): convert it, e.g. with "
                         "jq -c '.[]'", path=path)


def known_columns(item: InputFile) -> list[str] | None:
    """The columns an input names before its rows: a CSV's header, a Parquet file's schema (None
    for JSON Lines and `datasets` folders, whose fields are only known row by row)."""
    if item.kind == "csv":
        return _csv_header(item)
    if item.kind == "parquet":
        with item.open() as handle:
            names = _parquet_file(item, handle).schema_arrow.names
        twice = repeated_name(names)
        if twice is not None:  # a row read as a dict would keep only the last one's value
            raise DataError(f"column '{twice}' appears twice in the schema", path=str(item.path))
        return names
    return None


def refuse_json_array(item: InputFile) -> None:
    """Raise JsonArrayError when a JSON Lines input's first line opens an array of objects."""
    if item.kind != "jsonl":
        return
    try:
        with _binary(item) as handle:
            line = next((line for line in handle if line.strip()), b"")
    except DAMAGED_GZIP as error:
        raise _gzip_problem(error, item) from None
    if _opens_an_array_of_objects(line.removeprefix(codecs.BOM_UTF8)):
        raise JsonArrayError(str(item.path))


def _opens_an_array_of_objects(line: bytes) -> bool:
    """Whether a first line opens a JSON array of objects ("[" alone, as json.dump(indent=...) and
    jq write it, or "[{" ...): a JSON document, not JSON Lines."""
    stripped = line.strip()
    return stripped.startswith(b"[") and stripped[1:].lstrip()[:1] in (b"", b"{")


def _binary(item: InputFile):
    """The file's bytes, decompressed if gzipped."""
    raw = item.open()
    return gzip.GzipFile(fileobj=raw) if item.compressed else raw


def _csv_header(item: InputFile) -> list[str] | None:
    """A CSV file's header, after any blank lines (None when the file has none)."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    try:
        with _binary(item) as binary:
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
            reader = csv.reader(text)
            header = next((row for row in reader if row), None)
    except DAMAGED_GZIP as error:
        raise _gzip_problem(error, item) from None
    except csv.Error as error:
        raise DataError(f"unreadable CSV header ({error})", path=str(item.path), line=1) from None
    if header is not None:
        _check_header(header, item.path, reader.line_num)
    return header


def _parquet_file(item: InputFile, handle=None):
    """A Parquet file (read from ``handle``, else newly opened), to read its schema and batches."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(handle or item.open())
    except Exception as error:  # pyarrow raises several types for a corrupt file
        raise DataError(f"not a readable Parquet file ({error})", path=str(item.path)) from None


def _decompressed(chunks: Iterator[Chunk], item: InputFile) -> Iterator[Chunk]:
    """The chunks, a gzip stream that is damaged, cut short or not gzip at all named as the input's
    problem (Python raises EOFError for a cut stream, which Click would print as "Aborted!")."""
    try:
        yield from chunks
    except DAMAGED_GZIP as error:
        if not item.compressed:
            raise
        raise _gzip_problem(error, item) from None


def _gzip_problem(error: Exception, item: InputFile) -> DataError:
    """The error naming a gzip input that is damaged, cut short or not gzip at all."""
    if isinstance(error, gzip.BadGzipFile) and "Not a gzipped file" in str(error):
        return DataError("not gzip-compressed, though its name ends in .gz", path=str(item.path))
    return DataError(f"not a complete gzip file ({error})", path=str(item.path))


def _remembered(lines: Iterator[str], read: list[str]) -> Iterator[str]:
    """The lines, each also appended to ``read`` as the CSV reader takes it."""
    for line in lines:
        read.append(line)
        yield line


def _csv_row_problem(values: list[str], n_fields: int) -> str | None:
    """What keeps a CSV row from being read as written (None: nothing)."""
    if len(values) != n_fields:
        return f"expected {n_fields} fields as in the header, found {len(values)}"
    for value in values:
        bad = None if value.isascii() else NOT_UTF8.search(value)
        if bad:
            return f"not valid UTF-8 (byte 0x{ord(bad.group()) - 0xDC00:02x})"
    return None


def _ends_in_a_quoted_field(lines: list[str]) -> bool:
    """Whether a row's lines end inside a quoted field (the lenient reader takes the file's rest)."""
    if not any('"' in line for line in lines):
        return False
    try:
        list(csv.reader(lines, strict=True))
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def _check_header(header: list[str], path: Path, line: int) -> None:
    """A CSV header (ending on ``line``: blank lines may come before it) must name every column once."""
    seen = set()
    for position, name in enumerate(header, start=1):
        if not name.strip():
            raise DataError(f"column {position} of the header has no name", path=str(path), line=line)
        if name in seen:
            raise DataError(f"column '{name}' appears twice in the header", path=str(path), line=line)
        seen.add(name)


def free_name(name: str, taken: Collection[str], prefix: str) -> str:
    """``name``, prefixed with ``prefix`` as often as needed to be none of ``taken``."""
    while name in taken:
        name = f"{prefix}{name}"
    return name


def _tail(chunk: Chunk, skip: int) -> Chunk:
    """The chunk without its first ``skip`` rows."""
    return Chunk(chunk.source, chunk.numbers[skip:],
                 lines=chunk.lines[skip:] if chunk.lines is not None else None,
                 rows=chunk.rows[skip:] if chunk.rows is not None else None,
                 batch=chunk.batch.slice(skip) if chunk.batch is not None else None,
                 problems={i - skip: p for i, p in chunk.problems.items() if i >= skip})


def default_output(spec: str) -> Path:
    """Where the output goes when no --out is given: JSON Lines beside a local input, and in the
    current folder for a URL (outputs are written locally, then can be copied anywhere)."""
    if "://" in spec:
        spec = str(Path.cwd() / spec.split("://", 1)[1].rstrip("/").split("/")[-1])
    path = Path(spec)
    if glob.has_magic(spec) and not path.exists():
        base = Path(os.path.dirname(spec.split("*")[0].split("?")[0].split("[")[0]) or ".")
        return base / "labelled.jsonl"
    name = path.name
    for suffix in (".gz", ".jsonl", ".ndjson", ".json", ".csv", ".parquet"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return path.with_name(f"{name or 'comments'}.labelled.jsonl")
