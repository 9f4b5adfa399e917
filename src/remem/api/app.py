"""``create_app(settings)``: the FastAPI application with its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from remem import __version__
from remem.api.errors import install_error_handlers
from remem.api.failures import CatchAll
from remem.api.limits import BodySizeLimit
from remem.api.routers import health, longterm, working
from remem.config import Settings
from remem.runtime import Resources


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Resources(settings) as res:
            app.state.resources = res
            yield

    app = FastAPI(
        title="remem",
        version=__version__,
        description="Memory for AI agents on Redis. REST API wire-compatible with the "
        "Redis Agent Memory Server.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(working.router)
    app.include_router(longterm.router)
    app.include_router(longterm.lean_router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(CatchAll)  # outermost of ours: also catches the others' faults
    return app
