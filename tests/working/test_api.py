"""Working memory over HTTP: AMS 0.15 shapes, status codes and remem's extra rules."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import redis

from remem.api.app import create_app
from remem.config import Settings
from remem.runtime import Resources
from remem.store.embedded import EmbeddedRedis
from tests.helpers import HOSTILE_IDS

WM = "/v1/working-memory"


def body(**extra: object) -> dict[str, object]:
    data: dict[str, object] = {
        "messages": [
            {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": "Hi! How can I help?"},
        ],
        "context": "greeting",
        "data": {"k": [1, 2, {"x": None}]},
    }
    data.update(extra)
    return data


async def test_put_then_get_round_trips(client: httpx.AsyncClient) -> None:
    put = await client.put(f"{WM}/s1", json=body(namespace="ns", user_id="u1", tokens=7))
    assert put.status_code == 200, put.text
    doc = put.json()
    assert doc["session_id"] == "s1" and doc["namespace"] == "ns" and doc["user_id"] == "u1"
    assert doc["context_percentage_total_used"] is None
    assert doc["context_percentage_until_summarization"] is None
    got = await client.get(f"{WM}/s1", params={"namespace": "ns", "user_id": "u1"})
    assert got.status_code == 200
    out = got.json()
    assert [m["content"] for m in out["messages"]] == ["Hello there", "Hi! How can I help?"]
    assert out["messages"][0]["id"] == doc["messages"][0]["id"]
    assert out["data"] == {"k": [1, 2, {"x": None}]}
    assert out["context"] == "greeting" and out["tokens"] == 7
    assert out["long_term_memory_strategy"] == {"strategy": "discrete", "config": {}}


async def test_unknown_session_is_404_with_upstream_detail(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{WM}/nope")
    assert r.status_code == 404
    assert r.json()["detail"] == "Session nope not found"


async def test_delete_answers_ok_and_removes(client: httpx.AsyncClient) -> None:
    await client.put(f"{WM}/gone", json=body(namespace="ns"))
    r = await client.delete(f"{WM}/gone", params={"namespace": "ns"})
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert (await client.get(f"{WM}/gone", params={"namespace": "ns"})).status_code == 404
    again = await client.delete(f"{WM}/gone", params={"namespace": "ns"})
    assert again.status_code == 200


async def test_created_at_is_kept_and_updated_at_moves(client: httpx.AsyncClient) -> None:
    first = (await client.put(f"{WM}/c", json=body())).json()
    await asyncio.sleep(0.01)
    # A client that sends its own (older or newer) timestamps does not move created_at.
    second = (await client.put(f"{WM}/c", json=body(created_at="2001-01-01T00:00:00Z"))).json()
    assert second["created_at"] == first["created_at"]
    assert datetime.fromisoformat(second["updated_at"]) > datetime.fromisoformat(
        first["updated_at"]
    )


async def test_get_finds_session_by_id_alone(client: httpx.AsyncClient) -> None:
    await client.put(f"{WM}/only", json=body(namespace="n1", user_id="u1"))
    r = await client.get(f"{WM}/only")
    assert r.status_code == 200 and r.json()["namespace"] == "n1"
    r = await client.get(f"{WM}/only", params={"namespace": "n1"})
    assert r.status_code == 200 and r.json()["user_id"] == "u1"


async def test_ambiguous_session_id_is_409_not_a_guess(client: httpx.AsyncClient) -> None:
    await client.put(f"{WM}/twin", json=body(namespace="a"))
    await client.put(f"{WM}/twin", json=body(user_id="a"))
    r = await client.get(f"{WM}/twin")
    assert r.status_code == 409
    assert "2 times" in r.json()["detail"]
    r = await client.delete(f"{WM}/twin")
    assert r.status_code == 409
    # Naming the parts resolves it, and the two sessions stay apart.
    ns = (await client.get(f"{WM}/twin", params={"namespace": "a"})).json()
    user = (await client.get(f"{WM}/twin", params={"user_id": "a"})).json()
    assert (ns["namespace"], ns["user_id"]) == ("a", None)
    assert (user["namespace"], user["user_id"]) == (None, "a")


async def test_recent_messages_limit_keeps_the_newest(client: httpx.AsyncClient) -> None:
    msgs = [{"role": "user", "content": f"m{i}"} for i in range(10)]
    await client.put(f"{WM}/r", json={"messages": msgs})
    r = await client.get(f"{WM}/r", params={"recent_messages_limit": 3})
    assert [m["content"] for m in r.json()["messages"]] == ["m7", "m8", "m9"]


async def test_context_percentages_with_model_info(client: httpx.AsyncClient) -> None:
    msgs = [{"role": "user", "content": "x" * 400} for _ in range(10)]  # ~1,040 tokens
    r = await client.put(f"{WM}/p", json={"messages": msgs}, params={"context_window_max": 2000})
    doc = r.json()
    assert 40 < doc["context_percentage_total_used"] < 60
    assert doc["context_percentage_until_summarization"] > doc["context_percentage_total_used"]
    r = await client.get(f"{WM}/p", params={"model_name": "gpt-4o-mini"})
    assert 0 < r.json()["context_percentage_total_used"] < 1
    # A window smaller than the conversation returns the newest messages that fit.
    r = await client.get(f"{WM}/p", params={"context_window_max": 300})
    assert 1 <= len(r.json()["messages"]) < 10


async def test_unknown_fields_and_parameters_are_ignored(client: httpx.AsyncClient) -> None:
    r = await client.put(
        f"{WM}/x", json=body(surprise={"a": 1}, session_id="ignored"), params={"foo": "bar"}
    )
    assert r.status_code == 200 and "surprise" not in r.json()
    assert r.json()["session_id"] == "x"


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"{not json", 422),
        (b'{"messages": "nope"}', 422),
        (b'{"messages": [{"role": "user"}]}', 422),
        (b'{"ttl_seconds": "soon"}', 422),
        (b'{"ttl_seconds": 0}', 422),
        (b'{"memories": [{"id": "", "text": "t"}]}', 422),
        (b"[]", 422),
        (b'{"messages": [{"role": "user", "content": ""}]}', 400),
        (b'{"messages": [{"role": "user", "content": "   "}]}', 400),
    ],
)
async def test_bad_bodies_are_4xx_and_store_nothing(
    client: httpx.AsyncClient, payload: bytes, status: int
) -> None:
    r = await client.put(f"{WM}/bad", content=payload, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert "detail" in r.json()
    assert (await client.get(f"{WM}/bad")).status_code == 404


async def test_huge_body_is_413(client: httpx.AsyncClient, resources: Resources) -> None:
    limit = resources.settings.max_body_bytes
    big = {"messages": [{"role": "user", "content": "x" * (limit + 10)}]}
    r = await client.put(f"{WM}/huge", json=big)
    assert r.status_code == 413
    assert (await client.get(f"{WM}/huge")).status_code == 404


@pytest.mark.parametrize("bad", [" lead", "trail ", "tab\there"])
async def test_ids_that_cannot_be_exact_are_400(client: httpx.AsyncClient, bad: str) -> None:
    r = await client.put(f"{WM}/{quote(bad, safe='')}", json=body())
    assert r.status_code == 400
    r = await client.put(f"{WM}/ok", json=body(namespace=bad))
    assert r.status_code == 400
    assert "namespace" in r.json()["detail"]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
async def test_hostile_ids_round_trip_exactly(client: httpx.AsyncClient, hostile: str) -> None:
    path = f"{WM}/{quote(hostile, safe='')}"
    r = await client.put(path, json=body(namespace=hostile, user_id=hostile))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["session_id"], doc["namespace"], doc["user_id"]) == (hostile, hostile, hostile)
    # Found by exact key, and through the index with only the session id.
    assert (await client.get(path, params={"namespace": hostile, "user_id": hostile})).json()[
        "session_id"
    ] == hostile
    assert (await client.get(path)).json()["namespace"] == hostile
    listed = await client.get(f"{WM}/", params={"namespace": hostile, "user_id": hostile})
    assert listed.json() == {"sessions": [hostile], "total": 1}
    # Near misses match nothing: tags are exact, case-sensitive and not prefixes.
    for near in (hostile + "x", hostile.upper() if hostile.upper() != hostile else "Q"):
        missed = await client.get(f"{WM}/", params={"namespace": near})
        assert missed.json() == {"sessions": [], "total": 0}


async def test_redis_down_is_503_with_reason(tmp_path: Path) -> None:
    """A Redis that goes away mid-flight gives 503 with the reason, never an empty list."""
    server = EmbeddedRedis(tmp_path)
    url = server.acquire()
    try:
        app = create_app(Settings(redis_url=url, redis_timeout_seconds=1.0))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                assert (await http.put(f"{WM}/s", json=body())).status_code == 200
                with contextlib.suppress(redis.ConnectionError):
                    redis.Redis.from_url(url).shutdown(nosave=True)
                for r in (
                    await http.get(f"{WM}/", params={"namespace": "x"}),
                    await http.get(f"{WM}/s"),
                    await http.put(f"{WM}/s", json=body()),
                    await http.post(f"{WM}/s/messages", json={"messages": body()["messages"]}),
                    await http.delete(f"{WM}/s"),
                    await http.get("/v1/health"),
                ):
                    assert r.status_code == 503, r.text
                    assert "Redis unavailable" in r.json()["detail"]
    finally:
        server.release()
