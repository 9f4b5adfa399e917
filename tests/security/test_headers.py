"""Security headers on every HTTP answer, over real HTTP; the docs still load."""

from __future__ import annotations

import re

import httpx
import pytest

from remem.app import build_app
from remem.config import Settings
from tests.serving import served

COMMON = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
          "referrer-policy": "no-referrer"}  # fmt: skip


async def test_every_kind_of_answer_carries_the_headers(settings: Settings) -> None:
    async with served(build_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        answers = [
            await http.get("/v1/health"),
            await http.get("/v1/working-memory/"),
            await http.get("/v1/working-memory/missing"),  # 404 from a route
            await http.post("/v1/long-term-memory/search", content=b"{"),  # 422
            await http.post("/v1/erasures", json={}),  # 400
            await http.post("/v1/long-term-memory/", content=b"x" * (settings.max_body_bytes + 1)),
            await http.get("/openapi.json"),
            await http.post("/mcp", json={}),  # the MCP transport, mounted beside REST
        ]
        for r in answers:
            for name, value in COMMON.items():
                assert r.headers.get(name) == value, (r.request.url, r.status_code, name)
            assert r.headers["cache-control"] == "no-store", r.request.url
            csp = r.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_load_everything_from_remem_under_their_policy(
    settings: Settings, page: str
) -> None:
    """The docs' CSP allows what the page uses: scripts and styles it links are remem's own
    (same origin) and are served; nothing is loaded from elsewhere."""
    async with served(build_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        r = await http.get(page)
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "script-src 'self' 'unsafe-inline'" in csp and "frame-ancestors 'none'" in csp
        linked = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert linked and all(link.startswith("/") for link in linked), linked
        for link in linked:
            asset = await http.get(link)
            assert asset.status_code == 200, link
            assert (
                "cache-control" not in asset.headers or asset.headers["cache-control"] != "no-store"
            )
            assert asset.headers["x-content-type-options"] == "nosniff"
