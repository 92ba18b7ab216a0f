"""Known articles: the seed articles, plus those registered at run time (persisted to disk)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from model.corpus import Article, load_articles
from model.errors import DataError, ModerationError, UnknownArticleError
from model.text import LONE_SURROGATE
from seeds import SEEDS_DIR

REGISTERED_FILE = "articles.jsonl"
INLINE_PREFIX = "inline-"

logger = logging.getLogger(__name__)


class SeedArticleError(ModerationError):
    """A registration names a shipped seed article, which stays as shipped."""

    def __init__(self, article_id: str) -> None:
        self.article_id = article_id
        super().__init__(f"id: '{article_id}' is a shipped seed article and cannot be replaced; "
                         "register the article under another id")


class ArticleStore:
    """Articles by id; registrations are appended to a JSON Lines file and survive restarts."""

    def __init__(self, data_dir: Path | None = None, seeds_dir: Path = SEEDS_DIR) -> None:
        self._lock = threading.Lock()
        self._articles = {a.id: a for a in load_articles(seeds_dir / "articles.jsonl").values()}
        self._seed_ids = frozenset(self._articles)
        self._path = Path(data_dir) / REGISTERED_FILE if data_dir else None
        self._read_offset = 0
        self._lines_read = 0
        self._refresh()

    def _refresh(self) -> None:
        """Read registrations appended since the last read (by this or another worker process); a line
        that is not a registration is logged with its line number and skipped."""
        if not self._path or not self._path.exists():
            return
        with open(self._path, "rb") as handle:
            handle.seek(self._read_offset)
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # a registration still being written: read it next time
                self._read_offset += len(line)
                self._lines_read += 1
                article = _registered_article(line)
                if not isinstance(article, str) and article.id in self._seed_ids:
                    article = f"'{article.id}' is a shipped seed article, which stays as shipped"
                if isinstance(article, str):
                    logger.warning("%s:%d: skipped, %s", self._path, self._lines_read, article)
                else:
                    self._articles[article.id] = article

    def _grown(self) -> bool:
        """Whether the registrations file holds more than has been read (another worker wrote)."""
        try:
            return bool(self._path) and self._path.stat().st_size > self._read_offset
        except OSError:
            return False

    def texts(self) -> dict[str, str]:
        """Every known article's text (title and body) by id."""
        with self._lock:
            self._refresh()
            return {article_id: article.text for article_id, article in self._articles.items()}

    def registered(self) -> dict[str, Article]:
        """The articles registered on this machine (not the shipped seeds) by id."""
        with self._lock:
            self._refresh()
            return {i: article for i, article in self._articles.items() if i not in self._seed_ids}

    def __len__(self) -> int:
        return len(self._articles)

    def get(self, article_id: str) -> Article:
        """The article with this id, or UnknownArticleError."""
        if article_id not in self._articles or self._grown():
            with self._lock:
                self._refresh()
        try:
            return self._articles[article_id]
        except KeyError:
            raise UnknownArticleError(article_id) from None

    def register(self, article_id: str, title: str, body: str) -> tuple[Article, bool]:
        """Add or replace an article; return it and whether it was new. Registering an article again
        as it stands writes nothing, so a site that registers an article before each comment it sends
        does not grow the registrations file."""
        if not article_id.strip() or not title.strip() or not body.strip():
            raise DataError("id, title and body must be non-empty")
        if article_id in self._seed_ids:
            raise SeedArticleError(article_id)
        article = Article(article_id, title, body, source="registered")
        with self._lock:
            self._refresh()
            known = self._articles.get(article_id)
            if known is not None and (known.title, known.body) == (title, body):
                return known, False
            created = known is None
            if self._path:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                line = json.dumps({"id": article_id, "title": title, "body": body}, ensure_ascii=False) + "\n"
                _append_line(self._path, line.encode("utf-8"))
            self._articles[article_id] = article
            self._refresh()
        return article, created

    def register_inline(self, title: str, body: str) -> str | None:
        """The id of an article a comment carried inline, registered under an id derived from its
        text so that a decision on the comment can name it; None when it cannot be registered (a
        blank title or body, half a UTF-16 pair, its id taken by another article, or a registrations
        file that cannot be written)."""
        if LONE_SURROGATE.search(title) or LONE_SURROGATE.search(body):
            return None  # not valid Unicode: no UTF-8 file can hold it
        article_id = inline_article_id(title, body)
        try:
            try:
                known = self.get(article_id)
            except UnknownArticleError:
                self.register(article_id, title, body)
                return article_id
        except DataError:  # a blank title or body
            return None
        except OSError as error:  # a registrations file that cannot be read or written: queued without it
            logger.warning("inline article not registered (%s): %s", self._path, error)
            return None
        return article_id if (known.title, known.body) == (title, body) else None


def inline_article_id(title: str, body: str) -> str:
    """The id an inline article is registered under: the same title and body always give the same id."""
    digest = hashlib.sha256(f"{title}\x00{body}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{INLINE_PREFIX}{digest[:16]}"


def _append_line(path: Path, line: bytes) -> None:
    """Append a line durably, on a line of its own even after a torn or unterminated last line
    (a file lock keeps workers' appends whole)."""
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0, os.SEEK_END)
        if handle.tell():
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                line = b"\n" + line
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _registered_article(line: bytes) -> Article | str:
    """The article a registrations line holds, or what is wrong with the line."""
    try:
        record = json.loads(line)
    except ValueError:
        return "not valid JSON (a registration torn by a crash mid-write is never acknowledged)"
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    for field in ("id", "title", "body"):
        if not isinstance(record.get(field), str):
            return f"field '{field}' must be text, got {type(record.get(field)).__name__}"
    return Article(record["id"], record["title"], record["body"], source="registered")
