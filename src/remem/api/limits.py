"""A pure ASGI middleware that refuses request bodies above a size, before reading them all.

The refusal is :class:`PayloadTooLarge`, answered by ``remem.api.errors`` like every other error.
A body announced larger than the limit (``Content-Length``) is refused unread. A body sent without
a length is counted as the route reads it: past the limit, reading raises ``PayloadTooLarge``,
and since FastAPI turns any failure to read a body into its own 400 ("There was an error parsing
the body"), whatever the route answers then is dropped and the 413 is sent instead.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remem.api.errors import error_response
from remem.errors import PayloadTooLarge


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await error_response(self._too_large(), scope.get("path", ""))(scope, receive, send)
                return
        seen = 0
        overflowed = started = False

        async def counting_receive() -> Message:
            nonlocal seen, overflowed
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    overflowed = True
                    raise self._too_large()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if overflowed and not started:
                return  # the route's answer to a body it could not read: the 413 replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except PayloadTooLarge:
            if not overflowed:
                raise
        if overflowed and not started:
            await error_response(self._too_large(), scope.get("path", ""))(scope, receive, send)

    def _too_large(self) -> PayloadTooLarge:
        # Made only when needed: an exception built for every request cost 1-2 µs of each.
        return PayloadTooLarge(f"Request body larger than {self.max_bytes} bytes")
