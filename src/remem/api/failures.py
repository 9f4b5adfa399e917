"""The last resort: an unexpected exception becomes a clean 500 and the connection stays open.

Starlette hands an unhandled exception to its outermost middleware, which answers a plain-text
500 and raises it again; uvicorn then closes the keep-alive connection, so a client's next request
on it fails too. Here the answer is JSON with an error id, the traceback goes to the log under
that id (never to the client), and nothing is raised again, so the connection is kept.
"""

from __future__ import annotations

import json
import logging
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remem.api.problems import is_managed, problem_body

log = logging.getLogger("remem.api")


class CatchAll:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            error_id = uuid.uuid4().hex[:16]
            log.exception(
                "unexpected error %s in %s %s",
                error_id,
                scope.get("method"),
                scope.get("path"),
                extra={"error_id": error_id},
            )
            if started:  # half an answer went out: only closing the connection can end it
                raise
            detail = f"Internal server error (error id {error_id}); the server log has the details"
            answer = {"detail": detail, "code": "internal_error", "error_id": error_id}
            if is_managed(scope.get("path", "")):
                answer = problem_body(500, detail)
            body = json.dumps(answer).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
