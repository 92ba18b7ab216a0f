"""The moderation HTTP service: the FastAPI app, wired from its routes (``service.routes``), its gate
(``service.guard``), its error answers (``service.http_errors``) and the model it serves
(``service.serving``)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from service.articles import ArticleStore
from service.feedback import FeedbackStore, database_url
from service.guard import UNMATCHED, GuardMiddleware, keys_for
from service.http_errors import install_error_handlers
from service.routes import router
from service.serving import Metrics, ModelHolder, install_sighup, reload_model, watch_reload_marker
from service.settings import Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI application; the model is loaded in its lifespan."""
    settings = settings or Settings()
    if not logging.getLogger().handlers:  # a worker process uvicorn started: log as the command line does
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = FastAPI(title="comment-moderator", version="0.1.0", lifespan=_lifespan,
                  description="Sorts reader comments into substantive, whataboutism or abusive, with stance.")
    app.state.settings, app.state.holder, app.state.metrics = settings, ModelHolder(settings), Metrics()
    app.state.reload_marker_seen = {}  # the reload marker's time this worker last acted on
    app.include_router(router)
    several = settings.workers > 1
    takes_body, route_of = _route_matchers([*app.routes, *router.routes])
    app.add_middleware(GuardMiddleware, max_body_bytes=settings.max_body_bytes, metrics=app.state.metrics,
                       requests_per_connection=settings.requests_per_connection if several else 0,
                       seconds_per_connection=settings.seconds_per_connection if several else 0.0,
                       keys_for=partial(keys_for, settings), takes_body=takes_body, route_of=route_of)
    install_error_handlers(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """Load the model and open the stores as the app starts; follow reload requests while it runs."""
    state = app.state
    settings, holder, metrics = state.settings, state.holder, state.metrics
    holder.load()
    metrics.model_info.labels(holder.card["model_version"]).set(1)
    state.articles = ArticleStore(settings.data_dir)
    state.feedback = await asyncio.to_thread(FeedbackStore, database_url(settings.database_url, settings.data_dir))
    if settings.development_mode:
        logger.warning("no API keys configured: development mode, loopback only, no authentication")
    reload = partial(reload_model, holder, metrics)
    watcher = asyncio.create_task(watch_reload_marker(settings, reload, state.reload_marker_seen))
    install_sighup(reload)
    yield
    watcher.cancel()
    state.feedback.close()


def _route_matchers(routes: list) -> tuple:
    """Two questions the gate asks of a request's path before routing: whether a POST to it has its
    body checked, and which route it is for (as metrics label it). ``routes``: the app's own (its
    documentation) and the router's, each once (FastAPI 0.165 keeps an included router as one entry)."""
    routes = [route for route in routes if hasattr(route, "path_regex")]
    patterns: dict[bool, list] = {}  # whether routes take POST: their path patterns

    def takes_body(path: str) -> bool:
        """Whether a POST to ``path`` has its body checked: all but those to a route without POST (one
        with a path parameter too, such as /v1/feedback/{comment_id}), which get the router's 405 (not
        a 415 about their content type); an unknown path is checked too."""
        if not patterns:
            for route in routes:
                patterns.setdefault("POST" in (getattr(route, "methods", None) or set()), []).append(route.path_regex)
        if any(pattern.match(path) for pattern in patterns.get(True, [])):
            return True
        return not any(pattern.match(path) for pattern in patterns.get(False, []))

    def route_of(path: str) -> str:
        """The path pattern of the route ``path`` is for (as metrics label it), or "unmatched"."""
        return next((route.path for route in routes if route.path_regex.match(path)), UNMATCHED)

    return takes_body, route_of
