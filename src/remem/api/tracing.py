"""HTTP server spans (``remem.tracing``), by OpenTelemetry's ASGI instrumentation, outermost
(FastAPI's own spans, in the FastAPIs that have them, are off: ``api.app``).

The span is named ``METHOD route`` by the template of the route that answered
(``/v1/working-memory/{session_id:path}``), as its ``http.route``, once routing has found it:
never the raw path. The query string stays out of the span (it names namespaces and users);
no ``receive``/``send`` spans per message.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remem import tracing
from remem.api.metrics import UNMATCHED, route_of

QUERY = "remem.query_string"  # where the query string waits while the span starts


def trace_http(app: FastAPI) -> None:
    """Put ``app`` inside an HTTP server span when tracing is on (last middleware added, so
    outermost)."""
    if tracing.on():
        app.add_middleware(Traced)


def _method_only(scope: Scope) -> tuple[str, dict[str, Any]]:
    return scope.get("method", "HTTP"), {}


class Traced:
    """The app inside an HTTP server span; only built with tracing on (the otel extra)."""

    def __init__(self, app: ASGIApp) -> None:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        self.app = app
        self.traced = OpenTelemetryMiddleware(
            _named(app), default_span_details=_method_only, exclude_spans=["receive", "send"]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hidden = {**scope, "query_string": b"", QUERY: scope.get("query_string", b"")}
        await self.traced(hidden, receive, send)


def _named(app: ASGIApp) -> ASGIApp:
    async def named(scope: Scope, receive: Receive, send: Send) -> None:
        scope["query_string"] = scope.pop(QUERY, b"")
        span = trace.get_current_span()

        async def naming_send(message: Message) -> None:
            if message["type"] == "http.response.start":  # routed; the span ends with the body
                route = route_of(scope)
                if route != UNMATCHED:
                    span.set_attribute("http.route", route)
                span.update_name(f"{scope['method']} {route}")
            await send(message)

        await app(scope, receive, naming_send)

    return named
