"""An ASGI app called in process, with no server or socket between: what a route costs the app
itself (``cpu_per_request.py``, ``lean_route.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Call = Callable[[], Awaitable[bytes]]


def caller(
    app: Any,
    method: str,
    path: str,
    query: bytes = b"",
    body: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
    expect: int = 200,
) -> Call:
    """A call of ``method path?query`` with ``body``: the answer's body, or exit on a status
    other than ``expect`` (a benchmark of failing requests measures nothing)."""
    sent_headers = [
        (b"host", b"remem"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]

    async def call() -> bytes:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query, "root_path": "", "headers": sent_headers,
            "server": ("remem", 80), "client": ("bench", 1),
        }  # fmt: skip
        sent, status, out = False, 0, []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                out.append(message.get("body", b""))

        await app(scope, receive, send)
        if status != expect:
            raise SystemExit(f"{method} {path}: {status} {b''.join(out)[:300]!r}")
        return b"".join(out)

    return call
