"""Every REST route and MCP tool the app has is exercised by the leak suite: a route added
without a case there (and so, maybe, without a guard) fails this test."""

from __future__ import annotations

import asyncio
import re
from importlib.resources import files
from typing import Any

from remem.app import build_app
from remem.config import Settings
from remem.mcp.server import build_server
from tests.auth.test_leaks import REST, TOOLS
from tests.auth.test_leaks_managed import MANAGED

# Served without credentials: they hold no memory (remem.api.authenticate.OPEN_PATHS; the
# console's static pages and files, whose data calls are the API routes tried below).
OPEN = {"/v1/health", "/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
OPEN |= {"/ui", "/ui/{page:path}", "/ui/static/{name}"}


def guarded_routes(app: Any) -> set[str]:
    """ "METHOD /path" of every route (``*`` for a route taking any method, as the MCP
    transport does), those of included routers too, open paths left out."""
    out: set[str] = set()
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)  # FastAPI >= 0.16x
        entries = [(c.path, c.methods) for c in contexts()] if contexts else []
        if not contexts and hasattr(route, "path") and hasattr(route, "endpoint"):
            entries = [(route.path, getattr(route, "methods", None))]
        for path, methods in entries:
            if path in OPEN:
                continue
            for method in sorted((methods or {"*"}) - {"HEAD"}):
                out.add(f"{method} {path}")
    return out


def test_every_rest_route_is_in_the_leak_suite() -> None:
    routes = guarded_routes(build_app(Settings()))
    assert "GET /v1/working-memory/{session_id:path}" in routes  # the enumeration works
    mcp = {"* /mcp", "* /{namespace}/mcp"}
    assert mcp <= routes
    cases = set(REST) | set(MANAGED)  # the managed API's in test_leaks_managed.py
    missing = sorted(routes - mcp - cases)
    assert not missing, f"routes with no case in tests/auth/test_leaks*.py: {missing}"
    stale = sorted(cases - routes)
    assert not stale, f"cases for routes the app does not have: {stale}"


def test_every_mcp_tool_is_in_the_leak_suite() -> None:
    tools = {t.name for t in asyncio.run(build_server(lambda: None).list_tools())}  # type: ignore[arg-type, return-value]
    assert len(tools) >= 10
    missing = sorted(tools - set(TOOLS))
    assert not missing, f"MCP tools with no case in tests/auth/test_leaks.py: {missing}"
    assert not set(TOOLS) - tools


def test_every_call_of_the_console_is_in_the_leak_suite() -> None:
    """The web console (/ui) reads only through API routes the leak suite tries: each
    ``call(METHOD, path)`` of its scripts matches a route of ``REST``."""
    script = (files("remem") / "console" / "static" / "api.js").read_text()
    calls = re.findall(r'call\("([A-Z]+)", [`"](/v1/[^`"]*)[`"]', script)
    assert len(calls) >= 6, calls  # the enumeration works
    routes = [key.split(" ", 1) for key in REST]
    for method, path in calls:
        path = re.sub(r"\$\{[^}]*\}", "x", path)
        matched = [
            route
            for verb, route in routes
            if verb == method and re.fullmatch(re.sub(r"\{[^}]*\}", ".+", route), path)
        ]
        assert matched, f"the console calls {method} {path}, which the leak suite does not try"
