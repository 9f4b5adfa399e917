"""The MCP tools over streamable HTTP, mounted on the REST app at ``/mcp`` and
``/{namespace}/mcp`` (as upstream serves them), sharing its services and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from remem.config import Settings
from remem.mcp.server import build_server, url_namespace


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

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        token = url_namespace.set(scope.get("path_params", {}).get("namespace"))
        try:
            await self.manager.handle_request(scope, receive, send)
        finally:
            url_namespace.reset(token)


def mount(app: FastAPI, settings: Settings) -> None:
    """Answer MCP at /mcp and /{namespace}/mcp; the transport runs within the app's lifespan."""
    endpoint = HttpEndpoint(app, settings)
    app.router.routes.append(Route("/mcp", endpoint=endpoint))
    app.router.routes.append(Route("/{namespace}/mcp", endpoint=endpoint))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with inner(app_) as state, endpoint.manager.run():
            yield state

    app.router.lifespan_context = lifespan
