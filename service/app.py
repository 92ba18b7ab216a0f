"""The moderation HTTP service: FastAPI app, model held for hot reload, limits and API keys."""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote, unquote

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from model.corpus import json_problem
from model.errors import ModerationError, UnknownArticleError
from model.moderation import CommentInput, Moderator
from service.articles import INLINE_PREFIX, ArticleStore, SeedArticleError
from service.models import load_serving_model
from service.feedback import Decision, FeedbackStore, StoreError, database_url
from service.review import KEY_COOKIE, STATIC_TYPES, review_items, static_text
from service.schemas import (ArticleRegistration, ErrorBody, FeedbackIn, FeedbackOut, ModerateRequest,
                             ModerateResponse, ReviewLogin)
from service.settings import Settings

logger = logging.getLogger(__name__)
RELOAD_MARKER = "reload-request"
API_PREFIX, ADMIN_PREFIX = "/v1/", "/v1/admin/"  # every route under the first takes a key
MISSING_KEY = "missing or invalid API key (send it in the X-API-Key header)"
RELOAD_POLL_SECONDS = 1.0
UNMATCHED = "unmatched"  # the metrics path label of a request no route takes
MAX_QUEUE_OFFSET = 2**62  # beyond any queue, and within the databases' 64-bit integers
UNPARSED_BODY = "There was an error parsing the body"  # FastAPI's words when json.loads raises other than
# a JSON error: RecursionError (nested too deeply), ValueError (an integer of more than 4,300 digits)


class ModelHolder:
    """The model being served; a reload swaps it whole, so requests in flight finish on the old one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.moderator: Moderator | None = None
        self.card: dict = {}
        self._lock = threading.Lock()

    def load(self) -> dict:
        """Load (or reload) the configured artifact; on failure the current model keeps serving."""
        with self._lock:
            moderator, card = load_serving_model(self.settings.model_dir, self.settings.data_dir)
            self.moderator, self.card = moderator, card
            # The model's many long-lived objects need never be scanned again by the garbage
            # collector: freezing them keeps its full collections (and latency spikes) short.
            gc.collect()
            gc.freeze()
        logger.info("serving model %s from %s", card["model_version"], self.settings.model_dir)
        return card


class Metrics:
    """Prometheus metrics of one app instance."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("moderate_requests_total", "HTTP requests", ["path", "status"],
                                registry=self.registry)
        self.latency = Histogram("moderate_request_seconds", "Request latency", ["path"],
                                 buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
                                 registry=self.registry)
        self.decisions = Counter("moderate_decisions_total", "Comments by category and decision",
                                 ["category", "decision"], registry=self.registry)
        self.model_info = Gauge("moderate_model_info", "The model being served", ["model_version"],
                                registry=self.registry)


def error_response(status: int, message: str, detail: list[dict] | None = None) -> JSONResponse:
    """A JSON error body naming what is wrong."""
    return JSONResponse(status_code=status, content={"error": message, "detail": detail or []})


class GuardMiddleware:
    """Pure ASGI middleware: refuse oversized (413), non-JSON (415) and non-UTF-8 (400) POST bodies
    before any work is done, record request counts and latency, and, with several worker processes,
    ask a keep-alive client to reconnect after ``requests_per_connection`` requests or
    ``seconds_per_connection`` seconds of use, whichever comes first (the time limit is what rotates
    connections that carry large batches).

    Why the last: each uvicorn worker accepts every pending connection when it wakes, so a burst of
    new connections often all land on one worker while the other idles. A client that reconnects now
    and then is accepted by whichever worker is free first, which spreads the connections out.
    """

    def __init__(self, app, max_body_bytes: int, metrics: Metrics, requests_per_connection: int = 0,
                 seconds_per_connection: float = 0.0, keys_for: Callable[[str], list[str] | None] = lambda _: None,
                 takes_body: Callable[[str], bool] = lambda _: True,
                 route_of: Callable[[str], str] = lambda _: UNMATCHED) -> None:
        self.app, self.max_body_bytes, self.metrics, self.keys_for = app, max_body_bytes, metrics, keys_for
        self.takes_body, self.route_of = takes_body, route_of
        self.requests_per_connection = requests_per_connection
        self.seconds_per_connection = seconds_per_connection
        self._served: dict[tuple, tuple[int, float]] = {}  # client address: (requests, first request time)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_record(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                if (self.requests_per_connection or self.seconds_per_connection) and self._time_to_reconnect(scope):
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        allowed = self.keys_for(scope["path"])
        refusal = None
        if allowed is not None and not _carries_key(Request(scope), allowed):  # 401 before the body's checks
            refusal = error_response(401, MISSING_KEY)
        elif scope["method"] == "POST" and self.takes_body(scope["path"]):  # the API's and the review page's sign-in
            refusal, receive = await self._guard(scope, receive)
        if refusal is not None:
            await refusal(scope, receive, send_and_record)
            self._record(scope, status["code"], started)
            return
        await self.app(scope, receive, send_and_record)
        self._record(scope, status["code"], started)

    async def _guard(self, scope, receive):
        """An error response for a bad body, or None and a receive that replays the body."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        too_big = error_response(413, f"request body is larger than the limit of {self.max_body_bytes} "
                                      "bytes", [{"field": "body"}])
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            return too_big, receive
        content_type = headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if scope["path"] != "/v1/admin/reload" and media_type != "application/json":
            return error_response(415, f"content type must be application/json, got "
                                       f"'{content_type or 'none'}'", [{"field": "content-type"}]), receive
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return error_response(400, "client disconnected"), receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return too_big, receive
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            return error_response(400, f"request body is not valid UTF-8 (byte {error.start})",
                                  [{"field": "body"}]), receive
        replayed = {"done": False}

        async def replay():
            if not replayed["done"]:
                replayed["done"] = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()
        return None, replay

    def _time_to_reconnect(self, scope) -> bool:
        """Whether this response should close its connection (counted per client address and port)."""
        client = scope.get("client")
        if client is None:
            return False
        if len(self._served) > 10_000:
            self._served.clear()  # connections closed by their clients; forgetting them only delays a reconnect
        now = time.monotonic()
        served, since = self._served.get(tuple(client), (0, now))
        served += 1
        if (self.requests_per_connection and served >= self.requests_per_connection) or (
                self.seconds_per_connection and now - since >= self.seconds_per_connection):
            self._served.pop(tuple(client), None)
            return True
        self._served[tuple(client)] = (served, since)
        return False

    def _record(self, scope, status: int, started: float) -> None:
        route = scope.get("route")  # none when refused here, before routing: then the route it was for
        path = route.path if route is not None else self.route_of(scope["path"])
        self.metrics.requests.labels(path, str(status)).inc()
        self.metrics.latency.labels(path).observe(time.perf_counter() - started)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI application; the model is loaded in its lifespan."""
    settings = settings or Settings()
    if not logging.getLogger().handlers:  # a worker process uvicorn started: log as the command line does
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    holder = ModelHolder(settings)
    metrics = Metrics()
    marker_seen: dict[str, int] = {}  # the reload marker's time this worker last acted on

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        holder.load()
        metrics.model_info.labels(holder.card["model_version"]).set(1)
        app.state.articles = ArticleStore(settings.data_dir)
        app.state.feedback = await asyncio.to_thread(
            FeedbackStore, database_url(settings.database_url, settings.data_dir))
        if settings.development_mode:
            logger.warning("no API keys configured: development mode, loopback only, no authentication")
        watcher = asyncio.create_task(_watch_reload_marker(settings, reload_model, marker_seen))
        _install_sighup(reload_model)
        yield
        watcher.cancel()
        app.state.feedback.close()

    def reload_model() -> dict:
        old_version = holder.card.get("model_version")
        card = holder.load()
        metrics.model_info.labels(old_version).set(0)
        metrics.model_info.labels(card["model_version"]).set(1)
        return card

    app = FastAPI(title="comment-moderator", version="0.1.0", lifespan=lifespan,
                  description="Sorts reader comments into substantive, whataboutism or abusive, with stance.")
    app.state.holder, app.state.metrics, app.state.settings = holder, metrics, settings
    several = settings.workers > 1

    def keys_for(path: str) -> list[str] | None:
        """The keys a request to ``path`` needs: every API route takes a key, the admin routes an admin
        key; None for the rest (health, metrics, the review page, which signs in with a key itself)."""
        if settings.development_mode or not path.startswith(API_PREFIX):
            return None
        return settings.admin_keys if path.startswith(ADMIN_PREFIX) else settings.api_keys + settings.admin_keys

    patterns: dict[bool, list] = {}  # whether routes take POST: their path patterns

    def takes_body(path: str) -> bool:
        """Whether a POST to ``path`` has its body checked: all but those to a route without POST (one
        with a path parameter too, such as /v1/feedback/{comment_id}), which get the router's 405 (not
        a 415 about their content type); an unknown path is checked too."""
        if not patterns:
            for route in app.routes:
                patterns.setdefault("POST" in (getattr(route, "methods", None) or set()), []).append(route.path_regex)
        if any(pattern.match(path) for pattern in patterns.get(True, [])):
            return True
        return not any(pattern.match(path) for pattern in patterns.get(False, []))

    def route_of(path: str) -> str:
        """The path pattern of the route ``path`` is for (as metrics label it), or "unmatched"."""
        return next((route.path for route in app.routes if route.path_regex.match(path)), UNMATCHED)

    app.add_middleware(GuardMiddleware, max_body_bytes=settings.max_body_bytes, metrics=metrics,
                       requests_per_connection=settings.requests_per_connection if several else 0,
                       seconds_per_connection=settings.seconds_per_connection if several else 0.0,
                       keys_for=keys_for, takes_body=takes_body, route_of=route_of)
    _install_error_handlers(app)

    @app.post("/v1/moderate", response_model=ModerateResponse,
              responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 413: {"model": ErrorBody},
                         422: {"model": ErrorBody}})
    async def moderate(request_body: ModerateRequest, request: Request) -> Response:
        """Moderate one comment or a batch; results come back in the same order."""
        _check_limits(request_body, settings)
        inputs = [_to_input(i, c, request.app.state.articles) for i, c in enumerate(request_body.comments)]
        moderator = holder.moderator
        results = moderator.moderate(inputs, top=settings.explain_top)
        for (category, decision), count in collections.Counter((r.category, r.decision) for r in results).items():
            metrics.decisions.labels(category, decision).inc(count)  # once per pair: a batch has few
        response = {"model_version": moderator.version, "results": [r.to_dict() for r in results]}
        if request_body.queue:
            response["queued"] = await asyncio.to_thread(
                _enqueue_reviews, request_body.comments, inputs, results, request.app.state, moderator.version)
        # Already in the documented shape: serialised directly, skipping response-model validation;
        # ASCII-escaped, so that even a lone surrogate in a comment is valid JSON on the wire.
        return Response(json.dumps(response, check_circular=False), media_type="application/json")

    @app.post("/v1/feedback", response_model=FeedbackOut,
              responses={201: {"model": FeedbackOut}, 401: {"model": ErrorBody}, 422: {"model": ErrorBody}})
    async def feedback(body: FeedbackIn, request: Request, response: Response) -> dict:
        """Store a moderator's decision (once; a changed decision updates it and keeps its history)."""
        for name in ("comment_id", "text", "moderator"):
            if not str(getattr(body, name)).strip():
                raise FieldError(name, f"{name} is empty or only whitespace")
        if len(body.text) > settings.max_comment_chars:
            raise FieldError("text", f"text has {len(body.text)} characters, over the limit of "
                                     f"{settings.max_comment_chars}")
        if body.article_id is not None:
            _check_known_article(body.article_id, request.app.state.articles)
        decision = Decision(comment_id=str(body.comment_id), text=body.text, category=body.category,
                            moderator=body.moderator, article_id=body.article_id, stance=body.stance,
                            note=body.note)
        status, revision = await asyncio.to_thread(request.app.state.feedback.record, decision)
        response.status_code = 201 if status == "created" else 200
        return {"comment_id": decision.comment_id, "status": status, "revision": revision}

    @app.get("/v1/feedback/{comment_id:path}")
    async def feedback_of(comment_id: str, request: Request) -> dict:
        """The stored decision on a comment, with every earlier version."""
        found = await asyncio.to_thread(request.app.state.feedback.decision, comment_id)
        if found is None:
            raise HTTPException(404, f"no decision stored for comment_id '{comment_id}'")
        return found

    @app.get("/v1/queue")
    async def review_queue(request: Request, limit: int = Query(50, ge=1, le=500),
                           offset: int = Query(0, ge=0, le=MAX_QUEUE_OFFSET)) -> dict:
        """Comments waiting for a moderator, most uncertain first; ``offset`` pages through them."""
        items, total = await asyncio.to_thread(request.app.state.feedback.queue_page, limit, offset)
        return {"items": items, "total": total, "offset": offset, "limit": limit}

    @app.get("/review", include_in_schema=False)
    async def review_page(request: Request) -> Response:
        """The moderators' review page (a sign-in form when the request carries no valid key)."""
        allowed = keys_for(API_PREFIX)
        if allowed is not None and not _carries_key(request, allowed):
            return HTMLResponse(static_text("login.html"), status_code=401)
        return HTMLResponse(static_text("review.html"))

    @app.post("/review/login", include_in_schema=False)
    async def review_login(body: ReviewLogin) -> Response:
        """Check a key and keep it in an HTTP-only, same-site cookie for the review page."""
        allowed = keys_for(API_PREFIX)
        if allowed is not None and not _is_allowed(body.key, allowed):
            raise HTTPException(401, "invalid API key")
        response = Response(status_code=204)
        response.set_cookie(KEY_COOKIE, quote(body.key, safe=""), httponly=True, samesite="strict", path="/")
        return response

    @app.get("/review/static/{name}", include_in_schema=False)
    async def review_asset(name: str) -> Response:
        """The review page's script and style sheet."""
        if name not in STATIC_TYPES:
            raise HTTPException(404, f"no such file: {name}")
        return Response(static_text(name), media_type=STATIC_TYPES[name])

    @app.post("/v1/articles", status_code=201)
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

    @app.get("/v1/model")
    async def model_card() -> dict:
        """The model card of the model being served."""
        return holder.card

    @app.post("/v1/admin/reload")
    async def reload() -> dict:
        """Swap in the artifact at the model folder; a bad artifact is refused, the old one keeps serving."""
        old = holder.card.get("model_version")
        try:
            card = await asyncio.to_thread(reload_model)
        except ModerationError as error:
            raise HTTPException(409, f"new model refused, still serving {old}: {error}") from None
        except OSError as error:  # a file the fallback retraining cannot write, named by it
            where = f"{error.filename}: " if error.filename else ""
            raise HTTPException(409, f"new model refused, still serving {old}: {where}{error.strerror or error}") from None
        marker_seen["mtime"] = _touch_reload_marker(settings)  # this worker has it already
        return {"previous_model_version": old, "model_version": card["model_version"]}

    @app.get("/healthz")
    @app.head("/healthz", include_in_schema=False)  # load balancers probe with either
    async def healthz() -> dict:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz")
    @app.head("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        """The model is loaded and serving."""
        if holder.moderator is None:
            return error_response(503, "model not loaded")
        return JSONResponse({"status": "ready", "model_version": holder.card["model_version"]})

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _carries_key(request: Request, allowed: list[str]) -> bool:
    """Whether the request's X-API-Key, Bearer token or sign-in cookie is one of the allowed keys."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else None  # a scheme's name is case-insensitive
    header = _as_sent(request.headers.get("x-api-key") or bearer)
    return _is_allowed(header or unquote(request.cookies.get(KEY_COOKIE, "")), allowed)


def _as_sent(header: str | None) -> str | None:
    """A header's text as the client wrote it: HTTP headers arrive as Latin-1, keys are UTF-8."""
    if not header:
        return header
    try:
        return header.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return header


def _is_allowed(given: str | None, allowed: list[str]) -> bool:
    """Whether ``given`` is one of the allowed keys (compared in constant time, as UTF-8 bytes: any
    text, not only ASCII)."""
    if not given:
        return False
    sent = given.encode("utf-8", "surrogatepass")
    return any(secrets.compare_digest(sent, key.encode("utf-8", "surrogatepass")) for key in allowed)


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


class FieldError(Exception):
    """A request field with an invalid value."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


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


def _install_error_handlers(app: FastAPI) -> None:
    """Every error becomes a JSON body naming the field; nothing unexpected leaks as a traceback."""

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        detail = []
        for item in error.errors():
            location = [str(part) for part in item.get("loc", ())]
            location = location[1:] if location[:1] == ["body"] else location
            field = "body" if item.get("type") == "json_invalid" else ".".join(location) or "body"
            detail.append({"field": field, "message": item.get("msg", "invalid"), "type": item.get("type")})
        if any(d["type"] == "json_invalid" for d in detail):
            return error_response(400, "request body is not valid JSON", detail)
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in detail[:5])
        return error_response(422, f"invalid request: {summary}", detail)

    @app.exception_handler(FieldError)
    async def field_error(request: Request, error: FieldError) -> JSONResponse:
        return error_response(error.status, f"{error.field}: {error.message}",
                              [{"field": error.field, "message": error.message}])

    @app.exception_handler(StarletteHTTPException)  # FastAPI's own, and Starlette's (a body it cannot parse)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400 and error.detail == UNPARSED_BODY:  # json.loads raised other than a JSON error
            reason = json_problem(error.__cause__)
            return error_response(400, f"request body is not valid JSON: {reason}",
                                  [{"field": "body", "message": reason, "type": "json_invalid"}])
        return error_response(error.status_code, str(error.detail))

    @app.exception_handler(ModerationError)
    async def moderation_error(request: Request, error: ModerationError) -> JSONResponse:
        status = 503 if isinstance(error, StoreError) else 409 if isinstance(error, SeedArticleError) else 422
        return error_response(status, str(error))

    @app.exception_handler(Exception)  # the server log has the traceback
    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        return error_response(500, f"internal error ({type(error).__name__}): see the server log")


async def _watch_reload_marker(settings: Settings, reload_model, seen: dict[str, int]) -> None:
    """Reload when another worker process was asked to (it touches the marker file); ``seen`` holds
    the marker time this worker last acted on, its own reloads included."""
    seen["mtime"] = _marker_time(settings)
    while True:
        await asyncio.sleep(RELOAD_POLL_SECONDS)
        current = _marker_time(settings)
        if current != seen["mtime"]:
            seen["mtime"] = current
            try:
                await asyncio.to_thread(reload_model)
            except ModerationError as error:
                logger.error("reload requested by another worker refused: %s", error)
            except Exception:  # anything else would end this task, and with it every later reload
                logger.exception("reload requested by another worker failed; the old model keeps serving")


def _marker_time(settings: Settings) -> int:
    """The reload marker's modification time (0: never touched, or unreadable for now: logged)."""
    marker = Path(settings.data_dir) / RELOAD_MARKER
    try:
        return marker.stat().st_mtime_ns if marker.exists() else 0
    except OSError as error:  # the watcher must outlive a data folder it cannot read for a moment
        logger.warning("reload marker %s cannot be read: %s", marker, error)
        return 0


def _touch_reload_marker(settings: Settings) -> int:
    """Tell the other worker processes to reload too; return the marker's new time."""
    marker = Path(settings.data_dir) / RELOAD_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    os.utime(marker)
    return marker.stat().st_mtime_ns


def _install_sighup(reload_model) -> None:
    """SIGHUP reloads the model (main thread only; a no-op where signals are unavailable)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
        return
    loop = asyncio.get_running_loop()

    def on_sighup() -> None:
        async def run() -> None:
            try:
                await asyncio.to_thread(reload_model)
            except ModerationError as error:
                logger.error("SIGHUP reload refused, old model keeps serving: %s", error)
            except Exception:  # the server log has the traceback; the old model keeps serving
                logger.exception("SIGHUP reload failed, old model keeps serving")
        loop.create_task(run())

    try:
        loop.add_signal_handler(signal.SIGHUP, on_sighup)
    except (NotImplementedError, RuntimeError):
        pass
