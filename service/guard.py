"""The service's gate: API keys, body limits and request metrics, checked before any route runs."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from urllib.parse import unquote

from fastapi import Request

from service.http_errors import error_response
from service.review import KEY_COOKIE
from service.serving import Metrics
from service.settings import Settings

API_PREFIX, ADMIN_PREFIX = "/v1/", "/v1/admin/"  # every route under the first takes a key
MISSING_KEY = "missing or invalid API key (send it in the X-API-Key header)"
UNMATCHED = "unmatched"  # the metrics path label of a request no route takes


def keys_for(settings: Settings, path: str) -> list[str] | None:
    """The keys a request to ``path`` needs: every API route takes a key, the admin routes an admin
    key; None for the rest (health, metrics, the review page, which signs in with a key itself)."""
    if settings.development_mode or not path.startswith(API_PREFIX):
        return None
    return settings.admin_keys if path.startswith(ADMIN_PREFIX) else settings.api_keys + settings.admin_keys


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
        if allowed is not None and not carries_key(Request(scope), allowed):  # 401 before the body's checks
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


def carries_key(request: Request, allowed: list[str]) -> bool:
    """Whether the request's X-API-Key, Bearer token or sign-in cookie is one of the allowed keys."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else None  # a scheme's name is case-insensitive
    header = _as_sent(request.headers.get("x-api-key") or bearer)
    return is_allowed(header or unquote(request.cookies.get(KEY_COOKIE, "")), allowed)


def _as_sent(header: str | None) -> str | None:
    """A header's text as the client wrote it: HTTP headers arrive as Latin-1, keys are UTF-8."""
    if not header:
        return header
    try:
        return header.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return header


def is_allowed(given: str | None, allowed: list[str]) -> bool:
    """Whether ``given`` is one of the allowed keys (compared in constant time, as UTF-8 bytes: any
    text, not only ASCII)."""
    if not given:
        return False
    sent = given.encode("utf-8", "surrogatepass")
    return any(secrets.compare_digest(sent, key.encode("utf-8", "surrogatepass")) for key in allowed)