"""Known articles: the seed articles, plus those registered at run time (persisted to disk)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from model.corpus import Article, load_articles
from model.errors import DataError, UnknownArticleError
from seeds import SEEDS_DIR

REGISTERED_FILE = "articles.jsonl"


class ArticleStore:
    """Articles by id; registrations are appended to a JSON Lines file and survive restarts."""

    def __init__(self, data_dir: Path | None = None, seeds_dir: Path = SEEDS_DIR) -> None:
        self._lock = threading.Lock()
        self._articles = {a.id: a for a in load_articles(seeds_dir / "articles.jsonl").values()}
        self._path = Path(data_dir) / REGISTERED_FILE if data_dir else None
        self._read_offset = 0
        self._refresh()

    def _refresh(self) -> None:
        """Read registrations appended since the last read (by this or another worker process)."""
        if not self._path or not self._path.exists():
            return
        with open(self._path, "rb") as handle:
            handle.seek(self._read_offset)
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # a registration still being written: read it next time
                self._read_offset += len(line)
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a torn line from a crash mid-write carries no acknowledged article
                self._articles[record["id"]] = Article(record["id"], record["title"], record["body"],
                                                       source="registered")

    def texts(self) -> dict[str, str]:
        """Every known article's text (title and body) by id."""
        with self._lock:
            self._refresh()
            return {article_id: article.text for article_id, article in self._articles.items()}

    def __len__(self) -> int:
        return len(self._articles)

    def get(self, article_id: str) -> Article:
        """The article with this id, or UnknownArticleError."""
        if article_id not in self._articles:
            with self._lock:
                self._refresh()
        try:
            return self._articles[article_id]
        except KeyError:
            raise UnknownArticleError(article_id) from None

    def register(self, article_id: str, title: str, body: str) -> tuple[Article, bool]:
        """Add or replace an article; return it and whether it was new."""
        if not article_id.strip() or not title.strip() or not body.strip():
            raise DataError("id, title and body must be non-empty")
        article = Article(article_id, title, body, source="registered")
        with self._lock:
            created = article_id not in self._articles
            if self._path:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                with open(self._path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"id": article_id, "title": title, "body": body},
                                            ensure_ascii=False) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
            self._articles[article_id] = article
            self._refresh()
        return article, created
