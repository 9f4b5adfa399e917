"""``Authenticate``: a pure ASGI middleware that authenticates every HTTP request (REST and
the MCP transport mounted beside it) and serves it as the caller it proved to be.

A request that fails is answered 401 here, before any route runs. Paths in ``open_paths``
(health, the OpenAPI document and its viewers) and the console's pages and files (``/ui``,
whose data calls carry their own credentials) are served without credentials, as the local
caller would be refused nothing there: they hold no memory.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from remem.api.errors import error_response
from remem.api.headers import CONSOLE, DOCS_ASSETS
from remem.auth.authenticate import Authenticator
from remem.auth.context import acting_as
from remem.errors import RememError

OPEN_PATHS = frozenset({"/v1/health", "/health", "/openapi.json", "/docs", "/redoc"})


class Authenticate:
    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        open_paths: frozenset[str] = OPEN_PATHS,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        is_open = scope.get("path") in self.open_paths or _is_docs_asset(scope.get("path", ""))
        if is_open and authorization is None:
            # Served with no caller, nothing to leak, and no refusal audited: a load balancer
            # polling /v1/health would otherwise fill the audit log.
            await self.app(scope, receive, send)
            return
        try:
            principal = await self.authenticator.authenticate(authorization)
        except RememError as exc:  # 401; or 503 when the credential cannot be checked now
            if is_open:
                await self.app(scope, receive, send)  # served with no caller: nothing to leak
                return
            await error_response(exc, scope.get("path", ""))(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        with acting_as(principal):
            await self.app(scope, receive, send)


def _is_docs_asset(path: str) -> bool:
    """The docs' files, and the console's pages and files (static: they hold no memory)."""
    return path.startswith(DOCS_ASSETS) or path == CONSOLE or path.startswith(CONSOLE + "/")
