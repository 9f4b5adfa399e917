"""Per-field limits over real HTTP: too many messages, too long a text, too many memories are
each a 413 naming the field and the setting, and nothing is written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from remem.api.app import create_app
from remem.config import Settings
from tests.helpers import assert_4xx_with_reason
from tests.serving import served

LT = "/v1/long-term-memory"


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    small = settings.model_copy(
        update={"max_messages_per_write": 3, "max_text_chars": 50, "max_memories_per_request": 2}
    )
    async with served(create_app(small)) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


def msgs(n: int, size: int = 5) -> list[dict[str, str]]:
    return [{"role": "user", "content": "x" * size} for _ in range(n)]


def mems(n: int, size: int = 5) -> list[dict[str, str]]:
    return [{"id": f"m{i}", "text": "y" * size} for i in range(n)]


CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("PUT", "/v1/working-memory/s1", {"messages": msgs(4)}, "REMEM_MAX_MESSAGES_PER_WRITE"),
    ("PUT", "/v1/working-memory/s1", {"messages": msgs(1, 51)}, "messages[0].content"),
    ("PUT", "/v1/working-memory/s1", {"memories": mems(3)}, "REMEM_MAX_MEMORIES_PER_REQUEST"),
    ("PUT", "/v1/working-memory/s1", {"memories": mems(1, 51)}, "memories[0].text"),
    ("POST", "/v1/working-memory/s1/messages", {"messages": msgs(4)}, "4 messages"),
    ("POST", "/v1/working-memory/s1/messages", {"messages": msgs(2, 60)}, "REMEM_MAX_TEXT_CHARS"),
    ("POST", f"{LT}/", {"memories": mems(3)}, "3 memories"),
    ("POST", f"{LT}/", {"memories": mems(2, 51)}, "memories[0].text"),
    ("POST", f"{LT}/search", {"text": "z" * 51}, "text has 51 characters"),
]


@pytest.mark.parametrize(("method", "path", "body", "why"), CASES)
async def test_over_a_limit_is_a_413_with_the_reason_and_writes_nothing(
    http: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], why: str
) -> None:
    r = await http.request(method, path, json=body)
    assert_4xx_with_reason(r, 413)
    assert why in r.json()["detail"], r.json()
    assert (await http.get("/v1/working-memory/s1")).status_code == 404
    found = await http.post(f"{LT}/search", json={"text": "y"})
    assert found.json()["total"] == 0


async def test_at_the_limits_is_accepted(http: httpx.AsyncClient) -> None:
    r = await http.put("/v1/working-memory/s1", json={"messages": msgs(3, 50), "memories": mems(2)})
    assert r.status_code == 200, r.text
    assert (await http.post(f"{LT}/", json={"memories": mems(2, 50)})).status_code == 200
