"""The review queue and page: which moderated comments wait for a moderator, and the page's files."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from model.errors import UnknownArticleError
from model.moderation import CommentInput, ModerationResult
from service.articles import ArticleStore
from service.feedback import Queued

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {"review.js": "text/javascript", "review.css": "text/css"}
KEY_COOKIE = "moderate_key"


@lru_cache(maxsize=None)
def static_text(name: str) -> str:
    """A file of the review page."""
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def comment_id_of(comment, article: str | None) -> str:
    """The comment's own id, or one derived from its text and article when it has none."""
    if comment.id is not None:
        return str(comment.id)
    digest = hashlib.sha256(f"{comment.text}\x00{article or ''}".encode("utf-8", "surrogatepass"))
    return f"auto-{digest.hexdigest()[:16]}"


def review_items(comments: list, inputs: list[CommentInput], results: list[ModerationResult],
                 articles: ArticleStore, model_version: str) -> list[Queued]:
    """The comments of a moderation request whose decision is "review", ready for the queue."""
    items = []
    for comment, given, result in zip(comments, inputs, results):
        if result.decision != "review":
            continue
        items.append(Queued(
            comment_id=comment_id_of(comment, given.article), text=comment.text,
            article_id=_article_id(comment, articles), article_title=_title(comment, articles),
            category=result.category, scores=result.scores, stance=result.stance,
            stance_scores=result.stance_scores, reasons=result.reasons,
            explanation=result.explanation, model_version=model_version))
    return items


def _article_id(comment, articles: ArticleStore) -> str | None:
    """The id of the comment's article; an inline article is registered, so that the moderator's
    decision names it and retraining reads the comment with the article it was scored with."""
    if comment.article is not None:
        return articles.register_inline(comment.article.title, comment.article.body)
    return comment.article_id


def _title(comment, articles: ArticleStore) -> str | None:
    """The title of the comment's article, inline or registered (None when unknown)."""
    if comment.article is not None:
        return comment.article.title
    if comment.article_id is not None:
        try:
            return articles.get(comment.article_id).title
        except UnknownArticleError:
            return None
    return None
