"""The HTTP server a ``remem serve`` process runs: the REST app (``api``) with the MCP
transport (``mcp``) mounted beside it. The two interfaces do not import each other; this
module puts them together (and uvicorn's ``--factory`` builds one per worker process)."""

from __future__ import annotations

from fastapi import FastAPI

from remem.api.app import create_app
from remem.auth.authenticate import Authenticator
from remem.config import Settings
from remem.logs import configure
from remem.mcp.http import mount
from remem.tracing import setup as setup_tracing


def build_app(settings: Settings, *, authenticator: Authenticator | None = None) -> FastAPI:
    app = create_app(settings, authenticator=authenticator)
    mount(app, settings)
    return app


def app_from_env() -> FastAPI:
    settings = Settings()
    configure(settings.log_level, settings.log_format)
    setup_tracing(trace_content=settings.trace_content)  # before the app: its spans need it
    return build_app(settings)
