"""Seed documents and article records: parse the seed text files, read and write article JSON Lines."""

from __future__ import annotations

import codecs
import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator

from model.errors import DataError

DATE_LINE = re.compile(
    r"^(January|February|March|April|May|June|July|August|September|October|November|December)"
    r" \d{1,2}, \d{4} at \d{1,2}:\d{2}$"
)
DATE_FORMAT = "%B %d, %Y at %H:%M"
MAX_TITLE_CHARS = 150


@dataclass(frozen=True)
class Article:
    """A news article that comments are posted under."""

    id: str
    title: str
    body: str
    source: str = "seed"
    topic: str | None = None

    @property
    def text(self) -> str:
        """Title and body as one text, the form features are computed on."""
        return f"{self.title}\n\n{self.body}"


@dataclass(frozen=True)
class ThreadEntry:
    """One entry of a seed document's reader-comment thread; empty entries are kept and flagged."""

    index: int
    author: str | None
    posted_at: str
    text: str
    is_empty: bool


@dataclass(frozen=True)
class SeedDocument:
    """An article parsed from a seed file, with its reader comments (possibly none)."""

    article: Article
    comments: list[ThreadEntry] = field(default_factory=list)


def parse_seed_document(path: Path) -> SeedDocument:
    """Parse one seed file into its article and its comment thread."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    date_indexes = [i for i, line in enumerate(lines) if DATE_LINE.match(line.strip())]
    thread_start = _thread_start(lines, date_indexes)
    article = _parse_article(Path(path).stem, lines[:thread_start], path)
    comments = [_parse_entry(n, lines, date_index, date_indexes)
                for n, date_index in enumerate(date_indexes)]
    return SeedDocument(article=article, comments=comments)


def parse_seed_directory(directory: Path) -> list[SeedDocument]:
    """Parse every ``*.txt`` seed file of a directory, in file-name order."""
    paths = sorted(Path(directory).glob("*.txt"))
    if not paths:
        raise DataError("no seed documents (*.txt) found", path=str(directory))
    return [parse_seed_document(path) for path in paths]


def _thread_start(lines: list[str], date_indexes: list[int]) -> int:
    """Index of the first line of the comment thread (its first author or date line)."""
    if not date_indexes:
        return len(lines)
    first = date_indexes[0]
    return first - 1 if _is_author_line(lines, first) else first


def _is_author_line(lines: list[str], date_index: int) -> bool:
    """True when the line right above a date line (no blank between) names the author."""
    if date_index == 0:
        return False
    above = lines[date_index - 1].strip()
    return bool(above) and not DATE_LINE.match(above)


def _parse_article(article_id: str, lines: list[str], path: Path) -> Article:
    """Build the article from the lines above the thread: first line is the title."""
    paragraphs = [line.strip() for line in lines if line.strip()]
    if not paragraphs:
        raise DataError("seed document has no article text", path=str(path), line=1)
    first = paragraphs[0]
    if len(first) <= MAX_TITLE_CHARS:
        return Article(id=article_id, title=first, body="\n\n".join(paragraphs[1:]))
    return Article(id=article_id, title=_headline(first), body="\n\n".join(paragraphs))


def _headline(paragraph: str) -> str:
    """A title for an article whose first line is a lead paragraph: its first words."""
    sentence = re.split(r"(?<=[a-z]{2}[.!?])\s", paragraph, maxsplit=1)[0]
    if len(sentence) <= MAX_TITLE_CHARS:
        return sentence
    return sentence[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] + "…"


def _parse_entry(n: int, lines: list[str], date_index: int, date_indexes: list[int]) -> ThreadEntry:
    """One thread entry: optional author above its date line, text up to the next entry."""
    later = [i for i in date_indexes if i > date_index]
    end = later[0] if later else len(lines)
    if later and _is_author_line(lines, end):
        end -= 1
    paragraphs = [line.strip() for line in lines[date_index + 1:end] if line.strip()]
    text = "\n\n".join(paragraphs)
    author = lines[date_index - 1].strip() if _is_author_line(lines, date_index) else None
    posted_at = datetime.strptime(lines[date_index].strip(), DATE_FORMAT).isoformat()
    return ThreadEntry(index=n, author=author, posted_at=posted_at, text=text, is_empty=not text)


def read_jsonl(path: Path, problems: list[str] | None = None) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; malformed JSON or UTF-8 names file and
    line. With ``problems``, a line that is not a JSON object is added to it and skipped instead."""
    for number, line in text_lines(path):
        if not line.strip():
            continue
        try:
            yield number, _json_object(line, path, number)
        except DataError as error:
            if problems is None:
                raise
            problems.append(str(error))


def _json_object(line: str, path: Path, number: int) -> dict:
    """A JSON line's object, or DataError naming file and line."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as error:
        raise DataError(f"invalid JSON ({json_problem(error)})", path=str(path), line=number) from None
    if not isinstance(record, dict):
        raise DataError(f"expected a JSON object, found {type(record).__name__}", path=str(path), line=number)
    return record


def json_problem(error: Exception) -> str:
    """What ``json.loads`` found wrong, in a user's words: its message for malformed JSON, and for what
    it gives up on (RecursionError: nested too deeply; ValueError: an integer of over 4,300 digits)."""
    if isinstance(error, json.JSONDecodeError):
        return error.msg
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error).split(";")[0]  # its advice after ";" is for Python programmers


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) of a UTF-8 file, gzip-compressed when its name ends in .gz; a byte
    that is not UTF-8 names file, line and column. A byte-order mark before the first line is skipped."""
    with (gzip.open if Path(path).suffix == ".gz" else open)(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at column {error.start + 1})",
                                path=str(path), line=number) from None


def load_articles(path: Path) -> dict[str, Article]:
    """Read an articles JSON Lines file into a mapping from id to article."""
    articles: dict[str, Article] = {}
    for number, record in read_jsonl(path):
        for name in ("id", "title", "body"):
            if not isinstance(record.get(name), str) or not record[name].strip():
                raise DataError("missing or empty", path=str(path), line=number, field=name)
        if record["id"] in articles:
            raise DataError(f"duplicate article id '{record['id']}'", path=str(path), line=number,
                            field="id")
        articles[record["id"]] = Article(id=record["id"], title=record["title"], body=record["body"],
                                         source=record.get("source", "written"),
                                         topic=record.get("topic"))
    return articles


def is_saved_dataset(path: Path) -> bool:
    """Whether a folder was written by `datasets`' save_to_disk (a Dataset or a DatasetDict)."""
    return Path(path).is_dir() and any((Path(path) / name).exists() for name in
                                       ("dataset_info.json", "state.json", "dataset_dict.json"))


def repeated_name(names: list[str]) -> str | None:
    """The first of a header's or schema's column names that it gives more than once, or None."""
    counts = Counter(names)
    return next((name for name in names if counts[name] > 1), None)
