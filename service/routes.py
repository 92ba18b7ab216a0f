"""The service's routes: moderation, articles, moderators' decisions and queue, the review page,
the model and its reload, health and metrics. What they share is on ``request.app.state``."""

from __future__ import annotations

import asyncio
import collections
import json
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from model.errors import ModerationError, UnknownArticleError
from model.moderation import CommentInput
from service.articles import INLINE_PREFIX, ArticleStore
from service.feedback import Decision
from service.guard import API_PREFIX, carries_key, is_allowed, keys_for
from service.http_errors import FieldError, error_response
from service.review import KEY_COOKIE, STATIC_TYPES, review_items, static_text
from service.schemas import (ArticleRegistration, ErrorBody, FeedbackIn, FeedbackOut, ModerateRequest,
                             ModerateResponse, ReviewLogin)
from service.serving import reload_model, touch_reload_marker
from service.settings import Settings

MAX_QUEUE_OFFSET = 2**62  # beyond any queue, and within the databases' 64-bit integers
router = APIRouter()


@router.post("/v1/moderate", response_model=ModerateResponse,
             responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 413: {"model": ErrorBody},
                        422: {"model": ErrorBody}})
async def moderate(request_body: ModerateRequest, request: Request) -> Response:
    """Moderate one comment or a batch; results come back in the same order."""
    state = request.app.state
    _check_limits(request_body, state.settings)
    inputs = [_to_input(i, c, state.articles) for i, c in enumerate(request_body.comments)]
    moderator = state.holder.moderator
    results = moderator.moderate(inputs, top=state.settings.explain_top)
    for (category, decision), count in collections.Counter((r.category, r.decision) for r in results).items():
        state.metrics.decisions.labels(category, decision).inc(count)  # once per pair: a batch has few
    response = {"model_version": moderator.version, "results": [r.to_dict() for r in results]}
    if request_body.queue:
        response["queued"] = await asyncio.to_thread(
            _enqueue_reviews, request_body.comments, inputs, results, state, moderator.version)
    # Already in the documented shape: serialised directly, skipping response-model validation;
    # ASCII-escaped, so that even a lone surrogate in a comment is valid JSON on the wire.
    return Response(json.dumps(response, check_circular=False), media_type="application/json")


@router.post("/v1/feedback", response_model=FeedbackOut,
             responses={201: {"model": FeedbackOut}, 401: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def feedback(body: FeedbackIn, request: Request, response: Response) -> dict:
    """Store a moderator's decision (once; a changed decision updates it and keeps its history)."""
    for name in ("comment_id", "text", "moderator"):
        if not str(getattr(body, name)).strip():
            raise FieldError(name, f"{name} is empty or only whitespace")
    limit = request.app.state.settings.max_comment_chars
    if len(body.text) > limit:
        raise FieldError("text", f"text has {len(body.text)} characters, over the limit of {limit}")
    if body.article_id is not None:
        _check_known_article(body.article_id, request.app.state.articles)
    decision = Decision(comment_id=str(body.comment_id), text=body.text, category=body.category,
                        moderator=body.moderator, article_id=body.article_id, stance=body.stance,
                        note=body.note)
    status, revision = await asyncio.to_thread(request.app.state.feedback.record, decision, body.expected_revision)
    response.status_code = 201 if status == "created" else 200
    return {"comment_id": decision.comment_id, "status": status, "revision": revision}


@router.get("/v1/feedback/{comment_id:path}")
async def feedback_of(comment_id: str, request: Request) -> dict:
    """The stored decision on a comment, with every earlier version."""
    found = await asyncio.to_thread(request.app.state.feedback.decision, comment_id)
    if found is None:
        raise HTTPException(404, f"no decision stored for comment_id '{comment_id}'")
    return found


@router.get("/v1/queue")
async def review_queue(request: Request, limit: int = Query(50, ge=1, le=500),
                       offset: int = Query(0, ge=0, le=MAX_QUEUE_OFFSET)) -> dict:
    """Comments waiting for a moderator, most uncertain first; ``offset`` pages through them."""
    items, total = await asyncio.to_thread(request.app.state.feedback.queue_page, limit, offset)
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.get("/review", include_in_schema=False)
async def review_page(request: Request) -> Response:
    """The moderators' review page (a sign-in form when the request carries no valid key)."""
    allowed = keys_for(request.app.state.settings, API_PREFIX)
    if allowed is not None and not carries_key(request, allowed):
        return HTMLResponse(static_text("login.html"), status_code=401)
    return HTMLResponse(static_text("review.html"))


@router.post("/review/login", include_in_schema=False)
async def review_login(body: ReviewLogin, request: Request) -> Response:
    """Check a key and keep it in an HTTP-only, same-site cookie for the review page."""
    allowed = keys_for(request.app.state.settings, API_PREFIX)
    if allowed is not None and not is_allowed(body.key, allowed):
        raise HTTPException(401, "invalid API key")
    response = Response(status_code=204)
    response.set_cookie(KEY_COOKIE, quote(body.key, safe=""), httponly=True, samesite="strict", path="/")
    return response


@router.get("/review/static/{name}", include_in_schema=False)
async def review_asset(name: str) -> Response:
    """The review page's script and style sheet."""
    if name not in STATIC_TYPES:
        raise HTTPException(404, f"no such file: {name}")
    return Response(static_text(name), media_type=STATIC_TYPES[name])


@router.post("/v1/articles", status_code=201)
async def register_article(article: ArticleRegistration, request: Request, response: Response) -> dict:
    """Register (or replace) an article so comments can refer to it by id; survives restarts. The
    shipped seed articles cannot be replaced (409)."""
    if article.id.startswith(INLINE_PREFIX):
        raise FieldError("id", f"ids starting '{INLINE_PREFIX}' name articles sent inline with a queued comment, "
                               "by a hash of their title and body: register the article under another id")
    for name in ("id", "title", "body"):
        if not getattr(article, name).strip():
            raise FieldError(name, f"{name} is empty or only whitespace")
    if "\x00" in article.id:
        raise FieldError("id", "id holds a NUL character, which the feedback database cannot keep "
                               "in a decision or queued comment naming the article")
    _, created = request.app.state.articles.register(article.id, article.title, article.body)
    response.status_code = 201 if created else 200
    return {"id": article.id, "created": created}


@router.get("/v1/model")
async def model_card(request: Request) -> dict:
    """The model card of the model being served."""
    return request.app.state.holder.card


@router.post("/v1/admin/reload")
async def reload(request: Request) -> dict:
    """Swap in the artifact at the model folder; a bad artifact is refused, the old one keeps serving."""
    state = request.app.state
    old = state.holder.card.get("model_version")
    try:
        card = await asyncio.to_thread(reload_model, state.holder, state.metrics)
    except ModerationError as error:
        raise HTTPException(409, f"new model refused, still serving {old}: {error}") from None
    except OSError as error:  # a file the fallback retraining cannot write, named by it
        where = f"{error.filename}: " if error.filename else ""
        raise HTTPException(409, f"new model refused, still serving {old}: {where}{error.strerror or error}") from None
    state.reload_marker_seen["mtime"] = touch_reload_marker(state.settings)  # this worker has it already
    return {"previous_model_version": old, "model_version": card["model_version"]}


@router.get("/healthz")
@router.head("/healthz", include_in_schema=False)  # load balancers probe with either
async def healthz() -> dict:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
@router.head("/readyz", include_in_schema=False)
async def readyz(request: Request) -> Response:
    """The model is loaded and serving."""
    holder = request.app.state.holder
    if holder.moderator is None:
        return error_response(503, "model not loaded")
    return JSONResponse({"status": "ready", "model_version": holder.card["model_version"]})


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _check_limits(body: ModerateRequest, settings: Settings) -> None:
    """Batch size and comment length limits, and empty texts: 413/422 naming the field."""
    if len(body.comments) > settings.max_batch:
        raise FieldError("comments", f"batch of {len(body.comments)} comments is over the limit of "
                                     f"{settings.max_batch}", status=413)
    for index, comment in enumerate(body.comments):
        if not comment.text.strip():
            raise FieldError(f"comments[{index}].text", "text is empty or only whitespace")
        if len(comment.text) > settings.max_comment_chars:
            raise FieldError(f"comments[{index}].text", f"text has {len(comment.text)} characters, "
                                                        f"over the limit of {settings.max_comment_chars}")
        if comment.article_id is not None and comment.article is not None:
            raise FieldError(f"comments[{index}].article", "send article_id or article, not both")
        for name in ("title", "body"):
            if comment.article is not None and not getattr(comment.article, name).strip():
                raise FieldError(f"comments[{index}].article.{name}", f"{name} is empty or only whitespace")


def _enqueue_reviews(comments: list, inputs: list[CommentInput], results: list, state, model_version: str) -> int:
    """Queue the comments whose decision is "review" (registering their inline articles); how many."""
    return state.feedback.enqueue(review_items(comments, inputs, results, state.articles, model_version))


def _to_input(index: int, comment, articles: ArticleStore) -> CommentInput:
    """A request comment with its article text resolved."""
    article = None
    if comment.article_id is not None:
        try:
            article = articles.get(comment.article_id).text
        except UnknownArticleError as error:
            raise FieldError(f"comments[{index}].article_id", str(error)) from None
    elif comment.article is not None:
        article = f"{comment.article.title}\n\n{comment.article.body}"
    return CommentInput(text=comment.text, article=article, id=comment.id)


def _check_known_article(article_id: str, articles: ArticleStore) -> None:
    """Refuse (422, naming article_id) a decision's article id that /v1/moderate would not resolve."""
    if not article_id.strip():
        raise FieldError("article_id", "article_id is empty or only whitespace")
    try:
        articles.get(article_id)
    except UnknownArticleError:
        raise FieldError("article_id", f"unknown article_id '{article_id}': register it with POST "
                                       "/v1/articles, or leave article_id out") from None