"""``SecurityHeaders``: a pure ASGI middleware that adds the security headers to every HTTP
answer (REST, MCP, errors from the other middlewares, the docs):

- ``X-Content-Type-Options: nosniff``: a browser never runs an answer as another type;
- ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``: no page frames remem;
- ``Referrer-Policy: no-referrer``;
- ``Cache-Control: no-store`` on every answer but the docs' static files: memories must not
  stay in a shared or browser cache;
- ``Content-Security-Policy``: ``default-src 'none'`` for the API (JSON is never rendered, so
  nothing needs allowing); the docs pages (/docs, /redoc) load their scripts and styles from
  remem itself (``FastAPIOffline``) and run one inline script (Swagger UI's set-up) and inline
  styles, ReDoc a worker from a blob, so theirs allows ``'self'``, those inline parts and
  ``blob:`` workers, and nothing from elsewhere; the console (/ui) runs only remem's own
  scripts and styles (no inline ones), calls only remem, and submits its forms to itself.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
CONSOLE_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
CONSOLE = "/ui"
DOCS_PAGES = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
DOCS_ASSETS = "/static-offline-docs/"
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        asset = path.startswith(DOCS_ASSETS)
        added = list(_COMMON)
        added.append((b"content-security-policy", _policy(path, asset)))
        if not asset:
            added.append((b"cache-control", b"no-store"))
        names = {name for name, _ in added}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message["headers"] = kept + added
            await send(message)

        await self.app(scope, receive, with_headers)


def _policy(path: str, asset: bool) -> bytes:
    if asset or path in DOCS_PAGES:
        return DOCS_CSP
    if path == CONSOLE or path.startswith(CONSOLE + "/"):
        return CONSOLE_CSP
    return API_CSP
