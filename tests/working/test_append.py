"""POST /v1/working-memory/{id}/messages appends on the server: concurrent writers lose nothing."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime

import httpx

from remem.runtime import Resources

WM = "/v1/working-memory"


def msgs(*texts: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": t} for t in texts]


async def test_append_creates_then_extends(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{WM}/a/messages", json={"messages": msgs("one"), "namespace": "n"})
    assert r.status_code == 200, r.text
    first = r.json()
    r = await client.post(
        f"{WM}/a/messages", params={"namespace": "n"}, json={"messages": msgs("two", "three")}
    )
    doc = r.json()
    assert [m["content"] for m in doc["messages"]] == ["one", "two", "three"]
    assert doc["created_at"] == first["created_at"]
    assert datetime.fromisoformat(doc["updated_at"]) > datetime.fromisoformat(first["updated_at"])


async def test_sixteen_concurrent_appenders_lose_no_message(client: httpx.AsyncClient) -> None:
    async def writer(w: int) -> None:
        for i in range(10):
            r = await client.post(
                f"{WM}/busy/messages",
                json={"messages": msgs(f"w{w}-m{i}"), "namespace": "c", "user_id": "u"},
            )
            assert r.status_code == 200, r.text

    await asyncio.gather(*(writer(w) for w in range(16)))
    doc = (await client.get(f"{WM}/busy", params={"namespace": "c", "user_id": "u"})).json()
    contents = [m["content"] for m in doc["messages"]]
    assert sorted(contents) == sorted(f"w{w}-m{i}" for w in range(16) for i in range(10))
    # Each writer's own messages stay in the order it sent them.
    for w in range(16):
        mine = [c for c in contents if c.startswith(f"w{w}-")]
        assert mine == [f"w{w}-m{i}" for i in range(10)]


async def test_append_keeps_ttl_and_can_change_it(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    await client.put(f"{WM}/t", json={"messages": msgs("a"), "ttl_seconds": 300})
    key = resources.keys.working_memory("t", None, None)
    await resources.redis.expire(key, 100)  # as if time had passed
    await client.post(f"{WM}/t/messages", json={"messages": msgs("b")})
    assert 295 <= await resources.redis.ttl(key) <= 300  # the clock restarted
    r = await client.post(f"{WM}/t/messages", json={"messages": msgs("c"), "ttl_seconds": 50})
    assert r.json()["ttl_seconds"] == 50 and await resources.redis.ttl(key) <= 50
    r = await client.post(f"{WM}/t/messages", json={"messages": msgs("d"), "ttl_seconds": None})
    assert r.json()["ttl_seconds"] is None and await resources.redis.ttl(key) == -1


async def test_the_document_says_when_its_key_expires(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    """``expires_at`` (what listing filters on) is the key's own expiry, to the millisecond,
    after a PUT, an append that restarts the clock, one that changes it and one that ends it."""
    key = resources.keys.working_memory("x", None, None)

    async def both() -> tuple[object, object]:
        raw = await resources.redis.execute_command("JSON.GET", key, "$.expires_at")
        ms = await resources.redis.pexpiretime(key)
        return json.loads(raw)[0], None if ms == -1 else ms / 1000

    await client.put(f"{WM}/x", json={"messages": msgs("a"), "ttl_seconds": 300})
    stored, actual = await both()
    assert stored == actual and isinstance(stored, float)
    await client.post(f"{WM}/x/messages", json={"messages": msgs("b")})
    assert (await both())[0] == (await both())[1] >= stored  # type: ignore[operator]
    await client.post(f"{WM}/x/messages", json={"messages": msgs("c"), "ttl_seconds": 5})
    stored, actual = await both()
    assert stored == actual and stored < time.time() + 6  # type: ignore[operator]
    await client.post(f"{WM}/x/messages", json={"messages": msgs("d"), "ttl_seconds": None})
    assert await both() == (None, None)
    await client.put(f"{WM}/x", json={"messages": msgs("a")})
    assert await both() == (None, None)


async def test_put_without_ttl_makes_session_persistent(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    await client.put(f"{WM}/p", json={"messages": msgs("a"), "ttl_seconds": 60})
    key = resources.keys.working_memory("p", None, None)
    assert 0 < await resources.redis.ttl(key) <= 60
    await client.put(f"{WM}/p", json={"messages": msgs("a", "b")})
    assert await resources.redis.ttl(key) == -1


async def test_bad_appends_are_refused(client: httpx.AsyncClient) -> None:
    assert (await client.post(f"{WM}/b/messages", json={"messages": []})).status_code == 422
    assert (await client.post(f"{WM}/b/messages", json={"messages": msgs("")})).status_code == 400
    assert (await client.post(f"{WM}/b/messages", content=b"{")).status_code == 422
    assert (await client.get(f"{WM}/b")).status_code == 404
