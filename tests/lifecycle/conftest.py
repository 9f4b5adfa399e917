"""Fixtures: the app with its in-process worker, a short extraction debounce and poll."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from remem.api.app import create_app
from remem.config import Settings

DEBOUNCE = 0.3
POLL = 0.05  # how often the workers look for due work (0.5 s by default)


@pytest.fixture
def quick(settings: Settings) -> Settings:
    update = {"extraction_debounce_seconds": DEBOUNCE, "task_poll_seconds": POLL}
    return settings.model_copy(update=update)


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
