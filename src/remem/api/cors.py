"""CORS for browser clients (``REMEM_CORS_ORIGINS``), off by default: Starlette's
``CORSMiddleware`` answering the listed origins.

remem reads no cookie: a browser client sends its token in ``Authorization`` itself, so
credentials (``Access-Control-Allow-Credentials``) are never allowed, and ``*`` lets a page of
any origin call remem only with a token of its own. With auth disabled there is no token to
hold back, and ``*`` would let every page a browser opens read and write every memory: it is
refused at start (``remem.auth.modes.check_auth_settings``); exact origins are not.

The middleware sits outside ``Authenticate``: a preflight (``OPTIONS``) carries no token and
is answered here, and the answers ``Authenticate`` refuses (401) carry the CORS headers, so the
page can read why.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
# What a client sends beyond the safelisted headers: its token, its request id, and the MCP
# transport's protocol version and session.
HEADERS = [
    "Authorization",
    "Content-Type",
    "X-Request-ID",
    "Mcp-Protocol-Version",
    "Mcp-Session-Id",
]
# What a page may read of an answer beyond the safelisted headers.
EXPOSED = ["X-Request-ID", "Retry-After", "WWW-Authenticate"]
MAX_AGE = 600  # seconds a browser may keep a preflight's answer


def add_cors(app: FastAPI, origins: list[str]) -> None:
    """Answer ``origins`` (exact, or ``*``); nothing when there are none."""
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=METHODS,
            allow_headers=HEADERS,
            expose_headers=EXPOSED,
            max_age=MAX_AGE,
        )
