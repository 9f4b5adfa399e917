"""The MCP tools over streamable HTTP, mounted on the REST app at ``/mcp`` and
``/{namespace}/mcp`` (as upstream serves them), sharing its services and its lifespan.

A refusal there is a JSON-RPC error, so the MCP client shows its reason: the official client
reads the JSON-RPC error in a non-2xx answer and otherwise says only "Server returned an error
response". That covers the transport's own refusals (a GET, a namespace outside the caller's
scope, both refused at once) and those of the app's middlewares in front of it (401 with why,
413, 422, 429, 500), which ``JsonRpcErrors`` rewrites. Each keeps its status and headers
(``WWW-Authenticate``, ``Retry-After``) and, beside the JSON-RPC members, remem's own
``detail`` and ``code``, as a REST client reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp_types import INTERNAL_ERROR, INVALID_REQUEST
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remem.auth.context import caller
from remem.config import Settings
from remem.errors import Forbidden
from remem.mcp.server import build_server
from remem.mcp.tools import url_namespace

# In stateless mode the transport would open an event stream for a GET and, having no session
# to send anything on, never end it: a client or proxy waited forever.
NO_STREAM = (
    "GET opens no event stream here: this server keeps no MCP session, so it never sends a "
    "message unasked. POST each JSON-RPC message to this URL"
)


def jsonrpc_refusal(
    status: int, content: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """``status`` with ``content`` (remem's ``{"detail", "code"}``) as a JSON-RPC error."""
    error = {
        "code": INVALID_REQUEST if status < 500 else INTERNAL_ERROR,
        "message": _reason(content.get("detail")) or f"HTTP {status}",
        "data": {"status": status, "code": content.get("code")},
    }
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": error, **content})
    return Response(body, status, headers=headers, media_type="application/json")


def _reason(detail: Any) -> str:
    """A remem detail as one line; FastAPI's list of errors joined."""
    if isinstance(detail, list):
        return "; ".join(_one_reason(error) for error in detail)
    return str(detail or "")


def _one_reason(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    ctx = error.get("ctx")
    return str((ctx.get("error") if isinstance(ctx, dict) else None) or error.get("msg"))


class HttpEndpoint:
    """The transport as an ASGI endpoint. Stateless (no MCP session kept in a process), so any
    of several server processes behind one address can answer any request."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        server = build_server(
            lambda: app.state.resources,
            default_namespace=settings.mcp_default_namespace,
            default_user_id=settings.mcp_default_user_id,
        )
        server.streamable_http_app(stateless_http=True, host=settings.host)  # makes the manager
        self.manager = server.session_manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        namespace = scope.get("path_params", {}).get("namespace")
        refusal = _refusal(scope["method"], namespace)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        token = url_namespace.set(namespace)
        try:
            await self.manager.handle_request(scope, receive, send)
        finally:
            url_namespace.reset(token)


def _refusal(method: str, namespace: str | None) -> Response | None:
    """What is refused before the transport runs: a namespace in the URL outside the caller's
    scope (403: no session is opened where every tool call would fail), and a GET (405)."""
    if namespace is not None:
        try:
            caller().namespace(namespace)
        except Forbidden as exc:
            return jsonrpc_refusal(exc.status, {"detail": exc.detail, "code": exc.code})
    if method in ("GET", "HEAD"):
        content = {"detail": NO_STREAM, "code": "method_not_allowed"}
        return jsonrpc_refusal(405, content, headers={"Allow": "POST"})
    return None


class JsonRpcErrors:
    """A pure ASGI middleware, outermost: the JSON error answers of the app's other
    middlewares to a request for the MCP transport, rewritten as JSON-RPC errors. The
    transport's own answers already are JSON-RPC and pass unchanged, as do other paths'."""

    def __init__(self, app: ASGIApp, paths: list[re.Pattern[str]]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(p.match(scope["path"]) for p in self.paths):
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # the start of an error answer, sent with its new body
        chunks: list[bytes] = []

        async def rewriting(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and _json_error(message):
                held = message
            elif message["type"] != "http.response.body" or held is None:
                await send(message)
            else:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await _send_rewritten(send, held, b"".join(chunks))

        await self.app(scope, receive, rewriting)


def _json_error(start: Message) -> bool:
    headers = dict(start.get("headers", []))
    return bool(start["status"] >= 400 and headers.get(b"content-type") == b"application/json")


async def _send_rewritten(send: Send, start: Message, body: bytes) -> None:
    try:
        content = json.loads(body)
    except ValueError:  # not what it said it was: sent as it came
        content = None
    if isinstance(content, dict) and "jsonrpc" not in content:
        kept = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
        kept = {k: v for k, v in kept.items() if k not in ("content-length", "content-type")}
        answer = jsonrpc_refusal(start["status"], content, headers=kept)
        start = {**start, "headers": answer.raw_headers}
        body = bytes(answer.body)
    await send(start)
    await send({"type": "http.response.body", "body": body})


def mount(app: FastAPI, settings: Settings) -> None:
    """Answer MCP at /mcp and /{namespace}/mcp; the transport runs within the app's lifespan."""
    endpoint = HttpEndpoint(app, settings)
    routes = [Route("/mcp", endpoint=endpoint), Route("/{namespace}/mcp", endpoint=endpoint)]
    app.router.routes.extend(routes)
    app.add_middleware(JsonRpcErrors, paths=[route.path_regex for route in routes])
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with inner(app_) as state, endpoint.manager.run():
            yield state

    app.router.lifespan_context = lifespan
