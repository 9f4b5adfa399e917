"""``RequestId``: a pure ASGI middleware that gives every HTTP request an id, answers it in the
``X-Request-ID`` header and holds it in ``remem.logs.request_id`` while the request is served,
so every log record of the request carries it.

The id is the request's own ``X-Request-ID`` (a proxy's or a client's, to follow one request
across services) when it is 1 to 128 characters of ``A-Z a-z 0-9 . _ : -``; anything else (a
newline that would forge a log line, an id that would fill it) is replaced by a fresh one, a
uuid4 in hex.
"""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remem.logs import request_id

HEADER = b"x-request-id"
SANE = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def given_or_new(scope: Scope) -> str:
    """The request's sane ``X-Request-ID`` (the first one), else a new id."""
    for name, value in scope.get("headers", []):
        if name.lower() == HEADER:
            if SANE.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return uuid.uuid4().hex


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = given_or_new(scope)
        header = (HEADER, rid.encode("ascii"))

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() != HEADER]
                message["headers"] = [*kept, header]
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, with_id)
        finally:
            request_id.reset(token)
