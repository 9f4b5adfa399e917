"""Fixtures: the app with its in-process worker and a short extraction debounce."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from remem.api.app import create_app
from remem.config import Settings

DEBOUNCE = 0.3


@pytest.fixture
def quick(settings: Settings) -> Settings:
    return settings.model_copy(update={"extraction_debounce_seconds": DEBOUNCE})


@pytest.fixture
async def app_client(quick: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(quick)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            yield http


async def search(http: httpx.AsyncClient, text: str, **filters: object) -> list[dict]:
    body: dict[str, object] = {"text": text, "limit": 50}
    for name, value in filters.items():
        body[name] = {"eq": value}
    r = await http.post("/v1/long-term-memory/search", json=body)
    assert r.status_code == 200, r.text
    return list(r.json()["memories"])
