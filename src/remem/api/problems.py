"""The managed Agent Memory API's error body, for the paths it serves (``/health`` and
``/v1/stores/...``; every other path keeps remem's ``{"detail", "code"}``).

The body is ``{"type", "title", "status", "detail"}`` (and ``fields`` on a 400: one
``{"field", "rule", "message"}`` per refused value), served as ``application/json``: the
``redis-agent-memory`` SDK parses its typed errors only from that content type, and refuses a
validation failure as a 422, so one is a 400 here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi.responses import JSONResponse

MANAGED_PREFIX = "/v1/stores/"

# status -> (type, title), as the SDK's error models name them.
TYPES: dict[int, tuple[str, str]] = {
    400: ("/errors/invalid-data", "Invalid data"),
    401: ("/errors/authentication-failed", "Authentication failed"),
    403: ("/errors/insufficient-permissions", "Insufficient permissions"),
    404: ("/errors/resource-not-found", "Resource not found"),
    408: ("/errors/timeout", "Timeout"),
    409: ("/errors/conflict", "Conflict"),
    413: ("/errors/payload-too-large", "Payload too large"),
    423: ("/errors/resource-suspended", "Resource suspended"),
    424: ("/errors/resource-unavailable", "Resource unavailable"),
    429: ("/errors/too-many-requests", "Too many requests"),
    500: ("/errors/unexpected-error", "Unexpected error"),
    503: ("/errors/resource-unavailable", "Resource unavailable"),
}


def is_managed(path: str) -> bool:
    """``path`` is one of the managed API's."""
    return path.startswith(MANAGED_PREFIX) or path == "/health"


def problem_body(
    status: int, detail: str, fields: Iterable[Mapping[str, str]] | None = None
) -> dict[str, Any]:
    kind, title = TYPES.get(status, TYPES[500 if status >= 500 else 400])
    body: dict[str, Any] = {"type": kind, "title": title, "status": status, "detail": detail}
    if status == 400:
        body["fields"] = list(fields or [])
    return body


def problem(
    status: int,
    detail: str,
    fields: Iterable[Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(problem_body(status, detail, fields), status_code=status, headers=headers)


def field_name(loc: Iterable[Any]) -> str:
    """A validation error's location as the client wrote it: ``memories[0].text``; the
    request part (body, query, path) left out."""
    out = ""
    for part in loc:
        if part in ("body", "query", "path", "header") and not out:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_problem(errors: Iterable[Mapping[str, Any]]) -> JSONResponse:
    """A 400 naming each refused value (from FastAPI's or remem's own validation errors)."""
    fields = [
        {
            "field": field_name(e.get("loc", ())),
            "rule": str(e.get("type", "invalid")),
            "message": str(e.get("msg", "invalid value")),
        }
        for e in errors
    ]
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or "invalid request"
    return problem(400, detail, fields)
