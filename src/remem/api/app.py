"""``create_app(settings)``: the FastAPI application with its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from remem import __version__
from remem.api.authenticate import Authenticate
from remem.api.cors import add_cors
from remem.api.errors import install_error_handlers
from remem.api.failures import CatchAll
from remem.api.headers import SecurityHeaders
from remem.api.limits import BodySizeLimit
from remem.api.metrics import HttpMetrics
from remem.api.openapi import declare_security
from remem.api.ratelimit import RateLimit
from remem.api.requestid import RequestId
from remem.api.routers import (
    console,
    health,
    longterm,
    managed,
    metrics,
    overview,
    prompt,
    security,
    summary_views,
    working,
)
from remem.api.tracing import trace_http
from remem.api.wellformed import WellFormed
from remem.auth.authenticate import Authenticator
from remem.auth.modes import build_authenticator
from remem.config import Settings
from remem.foreground import CountRequests, Foreground
from remem.models.common import ErrorResponse
from remem.runtime import Resources

# Answers every route may give besides its own, as the OpenAPI schema shows them: remem's errors
# are {"detail", "code"} (remem.errors), 422 stays FastAPI's validation list.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid input (the reason is in detail)"},
    401: {
        "model": ErrorResponse,
        "description": "No, malformed, unknown, expired, revoked or forged credentials "
        "(auth on; WWW-Authenticate: Bearer)",
    },
    403: {
        "model": ErrorResponse,
        "description": "Outside the caller's scope (a namespace or user it may not name) or "
        "its role; the reason is in detail",
    },
    413: {
        "model": ErrorResponse,
        "description": "Request body, or a field (messages, text, memories), too large",
    },
    429: {
        "model": ErrorResponse,
        "description": "Rate limit (REMEM_RATE_LIMIT_PER_MINUTE) passed; retry after Retry-After",
    },
    500: {
        "model": ErrorResponse,
        "description": "Server fault: unexpected (internal_error, error id in detail) or "
        "vectors of the wrong shape from the embedder (embedding_mismatch)",
    },
    503: {
        "model": ErrorResponse,
        "description": "Redis or the embedding provider unavailable; retry after Retry-After",
    },
}


def create_app(settings: Settings, *, authenticator: Authenticator | None = None) -> FastAPI:
    """The app. ``authenticator`` overrides the one ``settings.auth_mode`` chooses."""
    foreground = Foreground(serving=True)  # its requests in flight, which its tasks let go first

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Resources(settings, foreground=foreground) as res, AsyncExitStack() as stack:
            if settings.run_worker:  # else `remem worker` processes run the tasks
                await stack.enter_async_context(res.worker())
            app.state.resources = res
            try:
                yield
            finally:
                # FastAPI keeps each route's endpoint in a module-level cache, and FastAPIOffline's
                # /docs endpoints close over the app: an app outlives its lifespan. Its
                # Resources (the embedding model's table among them) must not: 35 MB an app,
                # which made a test run that builds hundreds of apps grow past 10 GB.
                del app.state.resources

    # /docs and /redoc with their scripts served by remem itself, not from a CDN: they work
    # offline and behind a firewall.
    app = FastAPIOffline(
        title="remem",
        version=__version__,
        description="Memory for AI agents on Redis. REST API wire-compatible with the "
        "Redis Agent Memory Server.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        telemetry={"tracing": False},  # FastAPI's own spans: the server span is api.tracing's
    )
    install_error_handlers(app)
    # The managed Agent Memory API (a store is a namespace) first: its router passes over
    # every other path at once, where included last its requests walked every other router.
    app.include_router(managed.router)
    for routes in (health, working, longterm, prompt, summary_views, security):
        app.include_router(routes.router)
    app.include_router(overview.router)  # namespaces, tasks, tokens
    app.include_router(console.router)  # /ui: static pages, the data through the API
    if settings.metrics_enabled:
        app.include_router(metrics.router)
    app.add_middleware(WellFormed)  # inside BodySizeLimit: reads no more than it lets through
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.rate_limit_per_minute:  # inside Authenticate: counts per caller
        app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute)
    # Every request, REST and MCP, runs as the caller its credentials prove (remem.auth).
    if authenticator is None:  # built now, reads the Resources the lifespan makes on each request
        authenticator = build_authenticator(settings, lambda: app.state.resources)
    app.add_middleware(Authenticate, authenticator=authenticator)
    declare_security(app, authenticator)  # for /docs: Authorize, then "Try it out" with it
    app.add_middleware(CatchAll)  # also catches the others' faults
    # Outside Authenticate: preflights carry no token, and a 401 or a 500 is readable by the page.
    add_cors(app, settings.cors_origins)
    app.add_middleware(SecurityHeaders)  # on every answer, CatchAll's 500 included
    if settings.metrics_enabled:  # outside all but CountRequests: sees every answer
        app.add_middleware(HttpMetrics)
    app.add_middleware(RequestId)  # outside all that logs: their records carry the request id
    app.add_middleware(CountRequests, foreground=foreground)  # outermost of the REST app
    trace_http(app)  # with traces on, the HTTP server span around everything
    return app
