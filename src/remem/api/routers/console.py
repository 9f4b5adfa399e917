"""The web console (``/ui``): static files shipped in the wheel (``remem/console/static``),
no CDN and no build step. Every page path answers the same ``index.html``; the scripts route on
``location.pathname`` and query, and read the data through the REST API with the token the
user gives (kept in the tab's ``sessionStorage``). These answers hold no memory, so they are
served without credentials (``remem.api.authenticate``); their CSP allows remem's own scripts
and styles only (``remem.api.headers.CONSOLE_CSP``)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from remem.errors import NotFound

router = APIRouter(include_in_schema=False)

# The assets by name, with their types: only these are served (no path reaches the disk).
ASSETS = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "views.js": "text/javascript; charset=utf-8",
    "admin.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


@cache
def _read(name: str) -> bytes:
    return (files("remem") / "console" / "static" / name).read_bytes()


@router.get("/ui/static/{name}")
async def console_asset(name: str) -> Response:
    """One of the console's scripts or its style sheet."""
    if name not in ASSETS:
        raise NotFound(f"No console file {name}")
    return Response(_read(name), media_type=ASSETS[name])


@router.get("/ui")
@router.get("/ui/{page:path}")
async def console_page(page: str = "") -> HTMLResponse:
    """The console's one page, whatever the path below /ui (the scripts read it)."""
    return HTMLResponse(_read("index.html"))
