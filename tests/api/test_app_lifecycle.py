"""What an app leaves behind: its Resources go with its lifespan (FastAPI caches endpoints, so
an app object outlives it), and building the MCP server leaves the process's logging alone."""

from __future__ import annotations

import gc
import logging
import weakref

from remem.app import build_app
from remem.config import Settings
from remem.mcp.server import build_server


async def test_an_app_releases_its_resources_after_its_lifespan(settings: Settings) -> None:
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        held = weakref.ref(app.state.resources)
    gc.collect()
    assert held() is None  # 35 MB an app (the embedding table) was kept before


def test_building_the_mcp_server_leaves_the_root_logger_alone() -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()  # a process that has not set up logging (pytest's handlers aside)
    try:
        build_server(lambda: None)  # type: ignore[arg-type, return-value]
        assert root.handlers == []
    finally:
        root.handlers[:] = saved
