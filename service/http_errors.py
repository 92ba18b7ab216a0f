"""HTTP errors: every error answer is a JSON body naming what is wrong, never a traceback."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from model.corpus import json_problem
from model.errors import ModerationError
from service.articles import SeedArticleError
from service.feedback import DecisionConflict, StoreError

CONFLICTS = (SeedArticleError, DecisionConflict)  # what the request asks contradicts what is stored: 409
UNPARSED_BODY = "There was an error parsing the body"  # FastAPI's words when json.loads raises other than
# a JSON error: RecursionError (nested too deeply), ValueError (an integer of more than 4,300 digits)


def error_response(status: int, message: str, detail: list[dict] | None = None) -> JSONResponse:
    """A JSON error body naming what is wrong."""
    return JSONResponse(status_code=status, content={"error": message, "detail": detail or []})


class FieldError(Exception):
    """A request field with an invalid value."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def field_path(location: list) -> str:
    """A field's place in the body as the route's own checks name it: ``comments[0].text``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def install_error_handlers(app: FastAPI) -> None:
    """Every error becomes a JSON body naming the field; nothing unexpected leaks as a traceback."""

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        detail = []
        for item in error.errors():
            location = list(item.get("loc", ()))
            location = location[1:] if location[:1] == ["body"] else location
            field = "body" if item.get("type") == "json_invalid" else field_path(location) or "body"
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
        status = 503 if isinstance(error, StoreError) else 409 if isinstance(error, CONFLICTS) else 422
        return error_response(status, str(error))

    @app.exception_handler(Exception)  # the server log has the traceback
    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        return error_response(500, f"internal error ({type(error).__name__}): see the server log")