"""Named errors raised inside the project and translated at the HTTP and CLI edges."""

from __future__ import annotations


class ModerationError(Exception):
    """Base class of every error this project raises on purpose."""


class DataError(ModerationError):
    """Input data is malformed: the message names the file, line and field."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.path, self.line, self.field = path, line, field
        where = ":".join(str(part) for part in (path, line) if part is not None)
        located = f"{where}: " if where else ""
        named = f"field '{field}': " if field else ""
        super().__init__(f"{located}{named}{message}")


class ArtifactError(ModerationError):
    """A model artifact or its card is missing, corrupt or incompatible."""


class UnknownArticleError(ModerationError):
    """A comment refers to an article id that is not registered."""

    def __init__(self, article_id: str) -> None:
        self.article_id = article_id
        super().__init__(f"unknown article_id '{article_id}': register it with POST /v1/articles "
                         "or send the article's title and body inline")


class ConfigError(ModerationError):
    """A configuration value is invalid."""
