"""The one place where core errors become HTTP answers."""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from remem.api.problems import is_managed, problem, problem_body, validation_problem
from remem.errors import BackendUnavailable, RateLimited, RememError, Unauthenticated
from remem.metrics import count_refusal

log = logging.getLogger("remem.api")


def json_safe(value: Any) -> Any:
    """``value`` with what JSON cannot write made writable, and nothing dropped.

    FastAPI's 422 repeats the offending ``input``, and rendering it crashed (a 500 instead of
    the 422) for the very inputs it refuses: ``NaN``, ``Infinity`` or ``1e400`` (read as
    infinity) cannot be written by a strict JSON encoder, and a body that is not UTF-8 comes
    back as bytes that cannot be decoded. Those become strings: ``"NaN"``, ``"Infinity"``,
    ``"-Infinity"``, and the bytes decoded with ``\\x..`` escapes for what is not UTF-8.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, str):
        return value.encode("utf-8", errors="backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, BaseException):  # pydantic's ctx.error: its message is the reason
        return str(value)
    try:
        return json_safe(jsonable_encoder(value))
    except Exception:  # an object with no JSON form still gets its text
        return str(value)


def not_utf8(start: int, reason: str) -> dict[str, Any]:
    """The error of a body that is not UTF-8 (``reason`` says how): the 422 of a body that is
    not JSON (FastAPI's ``json_invalid``), saying where."""
    return {
        "type": "json_invalid",
        "loc": ["body", start],
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": reason},
    }


def error_response(exc: RememError, path: str = "") -> JSONResponse:
    """The answer to ``exc``: its status, ``{"detail", "code"}``, and ``Retry-After`` when
    retrying later may succeed. Also used by the middlewares that answer before the routes.
    On the managed API's paths (``path``: ``api.problems``) the body is its problem body.

    A server fault (5xx) answers what failed without the addresses and paths in its detail
    (``RememError.public_detail``), with an error id under which the log keeps all of it."""
    content: dict[str, Any] = {"detail": exc.detail, "code": exc.code, **exc.extra}
    count_refusal(exc.code, exc.status, exc.detail)
    if exc.status >= 500:
        error_id = uuid.uuid4().hex[:16]
        log.warning(
            "%s %s (error id %s)", exc.code, exc.detail, error_id, extra={"error_id": error_id}
        )
        content = {"detail": exc.public_detail, "code": exc.code, "error_id": error_id}
    if is_managed(path):
        detail = content["detail"] if exc.status < 500 else f"{content['detail']} ({error_id})"
        content = problem_body(exc.status, detail)
    headers = None
    if isinstance(exc, BackendUnavailable | RateLimited):  # retryable: say when to come back
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    elif isinstance(exc, Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse(status_code=exc.status, content=content, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RememError)
    async def _remem_error(request: Request, exc: RememError) -> JSONResponse:
        return error_response(exc, request.url.path)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        """FastAPI's own answers, but a body that is not UTF-8 (FastAPI: a 400 "There was an
        error parsing the body") is the 422 of a body that is not JSON, saying where."""
        cause = exc.__cause__
        if is_managed(request.url.path):
            if isinstance(cause, UnicodeDecodeError):
                return problem(400, f"not UTF-8: {cause.reason} at byte {cause.start}", [])
            detail = exc.detail if isinstance(exc.detail, str) else "refused"
            return problem(exc.status_code, detail, [], headers=exc.headers)
        if exc.status_code == 400 and isinstance(cause, UnicodeDecodeError):
            error = not_utf8(cause.start, f"not UTF-8: {cause.reason} at byte {cause.start}")
            return JSONResponse(status_code=422, content={"detail": [error]})
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 (``detail`` as its list of errors), renderable whatever the input;
        on the managed API's paths its 400 naming each field."""
        if is_managed(request.url.path):
            return validation_problem(json_safe(exc.errors()))
        return JSONResponse(status_code=422, content={"detail": json_safe(exc.errors())})
