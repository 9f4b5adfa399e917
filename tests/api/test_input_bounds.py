"""No input gives a 5xx: every number has bounds the store and the index hold (a 422 at the
edge, shown in the OpenAPI schema), filter values that could never match are a 400 with the
reason, a 422 renders whatever its input, and a stored record the server cannot read back is
skipped by search (and logged) instead of failing it for everyone."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from remem.config import Settings
from remem.models.bounds import MAX_COUNT, MAX_SEARCH_OFFSET, MAX_TTL_SECONDS
from remem.store.keys import Keys
from tests.helpers import assert_4xx_with_reason

LTM = "/v1/long-term-memory"
WM = "/v1/working-memory"
JSON = {"content-type": "application/json"}


@pytest.fixture
async def raw_redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    yield client
    await client.aclose()


# -- 4: the poison record ----------------------------------------------------------------------
async def test_a_count_the_store_cannot_hold_is_refused(client: httpx.AsyncClient) -> None:
    """``access_count`` 10**29 was accepted, then made GET and every search for it a 500."""
    poison = {"id": "p", "text": "zebras", "access_count": 10**29}
    r = await client.post(f"{LTM}/", json={"memories": [poison]})
    assert_4xx_with_reason(r, 422)
    assert "access_count" in r.text
    r = await client.post(f"{LTM}/", json={"memories": [{**poison, "access_count": MAX_COUNT}]})
    assert r.status_code == 200, r.text
    got = await client.get(f"{LTM}/p")
    assert got.status_code == 200 and got.json()["access_count"] == MAX_COUNT
    found = await client.post(f"{LTM}/search", json={"text": "zebras"})
    assert found.status_code == 200 and [m["id"] for m in found.json()["memories"]] == ["p"]


@pytest.mark.parametrize("field", ["access_count", "tokens"])
async def test_a_session_cannot_store_a_count_it_cannot_read(
    client: httpx.AsyncClient, field: str
) -> None:
    body = (
        {"memories": [{"id": "m", "text": "t", "access_count": 10**29}]}
        if field == "access_count"
        else {"tokens": 10**29}
    )
    assert_4xx_with_reason(await client.put(f"{WM}/s", json=body), 422)
    assert (await client.get(f"{WM}/s")).status_code == 404


async def test_a_record_edited_by_hand_is_skipped_by_search_and_named_by_get(
    client: httpx.AsyncClient,
    settings: Settings,
    raw_redis: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    memories = [
        {"id": "bad-count", "text": "zebras run"},
        {"id": "bad-date", "text": "zebras sleep"},
        {"id": "good", "text": "zebras eat grass"},
    ]
    r = await client.post(f"{LTM}/", json={"memories": memories, "deduplicate": False})
    assert r.status_code == 200, r.text
    keys = Keys(settings.key_prefix)
    await raw_redis.hset(keys.memory("bad-count"), "access_count", "1e29")
    await raw_redis.hset(keys.memory("bad-date"), "created_at", "1e20")
    with caplog.at_level(logging.WARNING, logger="remem.memory.longterm"):
        found = await client.post(f"{LTM}/search", json={"text": "zebras"})
    assert found.status_code == 200, found.text
    assert [m["id"] for m in found.json()["memories"]] == ["good"]
    assert "bad-count" in caplog.text and "bad-date" in caplog.text
    for memory_id, field in (("bad-count", "access_count"), ("bad-date", "created_at")):
        got = await client.get(f"{LTM}/{memory_id}")
        assert_4xx_with_reason(got, 409)
        assert got.json()["code"] == "unreadable"
        assert memory_id in got.json()["detail"] and field in got.json()["detail"]
        patched = await client.patch(f"{LTM}/{memory_id}", json={"pinned": True})
        assert_4xx_with_reason(patched, 409)
    # Storing it again under the same id repairs it.
    r = await client.post(f"{LTM}/", json={"memories": memories[:1]})
    assert r.status_code == 200, r.text
    assert (await client.get(f"{LTM}/bad-count")).status_code == 200


@pytest.mark.parametrize(
    "date",
    ["9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00+05:00", "1066-10-14T09:00:00.5Z"],
)
async def test_a_date_the_store_cannot_give_back_is_refused(
    client: httpx.AsyncClient, date: str
) -> None:
    """Year 10000 after rounding, year 0 in UTC, and microseconds far from 1970 were stored and
    then made GET a 500 (or came back changed)."""
    memory = {"id": "d", "text": "a dated memory", "event_date": date}
    assert_4xx_with_reason(await client.post(f"{LTM}/", json={"memories": [memory]}), 422)


@pytest.mark.parametrize(
    "date", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1066-10-14T09:00:00Z"]
)
async def test_whole_seconds_round_trip_in_every_year(client: httpx.AsyncClient, date: str) -> None:
    memory = {"id": "d", "text": "a dated memory", "event_date": date}
    assert (await client.post(f"{LTM}/", json={"memories": [memory]})).status_code == 200
    got = await client.get(f"{LTM}/d")
    assert got.status_code == 200, got.text
    assert got.json()["event_date"] == date


# -- 5: 500s from input --------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["topics", "entities", "namespace", "user_id", "session_id"])
@pytest.mark.parametrize("operator", ["eq", "any", "ne", "all", "none"])
async def test_an_empty_filter_value_is_a_400(
    client: httpx.AsyncClient, field: str, operator: str
) -> None:
    value = "" if operator in ("eq", "ne") else [""]
    r = await client.post(f"{LTM}/search", json={"text": "x", field: {operator: value}})
    assert_4xx_with_reason(r, 400)
    assert field in r.json()["detail"]


@pytest.mark.parametrize("value", ["a\x14b", "a\x00b", " a"])
async def test_a_filter_value_that_cannot_match_is_a_400(
    client: httpx.AsyncClient, value: str
) -> None:
    r = await client.post(f"{LTM}/search", json={"text": "x", "namespace": {"eq": value}})
    assert_4xx_with_reason(r, 400)


@pytest.mark.parametrize("query", ["namespace=%14", "namespace=a%00b", "user_id=%0A", "namespace="])
@pytest.mark.parametrize("path", ["forget", "compact"])
async def test_control_characters_in_forget_and_compact_scopes_are_400(
    client: httpx.AsyncClient, path: str, query: str
) -> None:
    r = await client.post(f"{LTM}/{path}?{query}")
    assert_4xx_with_reason(r, 400)


async def test_a_forget_session_scope_with_control_characters_is_400(
    client: httpx.AsyncClient,
) -> None:
    assert_4xx_with_reason(await client.post(f"{LTM}/forget?session_id=a%00b"), 400)


async def test_the_search_offset_is_bounded(client: httpx.AsyncClient) -> None:
    """An offset of about 333,300 made the engine refuse the query (``LIMIT exceeds
    maximum``), a 500."""
    r = await client.post(f"{LTM}/search", json={"text": "x", "offset": 400_000})
    assert_4xx_with_reason(r, 422)
    r = await client.post(f"{LTM}/search", json={"text": "x", "offset": MAX_SEARCH_OFFSET})
    assert r.status_code == 200, r.text
    assert r.json()["memories"] == []


@pytest.mark.parametrize("ttl", [9223372036854775807, MAX_TTL_SECONDS + 1, 0])
async def test_the_ttl_is_bounded(client: httpx.AsyncClient, ttl: int) -> None:
    """``ttl_seconds`` 9223372036854775807 was an ``invalid expire time`` 500."""
    assert_4xx_with_reason(await client.put(f"{WM}/s", json={"ttl_seconds": ttl}), 422)
    append = {"messages": [{"role": "user", "content": "hi"}], "ttl_seconds": ttl}
    assert_4xx_with_reason(await client.post(f"{WM}/s/messages", json=append), 422)
    assert (await client.get(f"{WM}/s")).status_code == 404


async def test_the_longest_ttl_is_kept(client: httpx.AsyncClient) -> None:
    r = await client.put(f"{WM}/s", json={"ttl_seconds": MAX_TTL_SECONDS})
    assert r.status_code == 200, r.text
    assert (await client.get(f"{WM}/s")).json()["ttl_seconds"] == MAX_TTL_SECONDS


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", f"{WM}/s"), ("POST", f"{LTM}/search"), ("POST", f"{LTM}/"), ("POST", f"{LTM}/forget")],
)
async def test_a_body_that_is_not_utf8_is_a_422_with_a_reason(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    r = await client.request(method, path, content=b'{"text": "\xff\xfe"}', headers=JSON)
    assert r.status_code == 422, r.text  # every route, APIRoute or LeanRoute
    assert r.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize(
    ("path", "template"),
    [
        (f"{LTM}/search", '{"text": "x", "hybrid_alpha": %s}'),
        (f"{LTM}/search", '{"text": "x", "recency_semantic_weight": %s}'),
        (f"{LTM}/search", '{"text": "x", "distance_threshold": %s}'),
        (f"{LTM}/forget", '{"policy": {"max_age_days": %s}}'),
    ],
)
async def test_non_finite_floats_are_a_422_that_renders(
    client: httpx.AsyncClient, path: str, template: str, number: str
) -> None:
    """Rendering the 422 itself crashed: its ``input`` was a float JSON cannot write."""
    r = await client.post(path, content=template.replace("%s", number).encode(), headers=JSON)
    assert_4xx_with_reason(r, 422)
    assert r.json()["detail"][0]["input"] in ("NaN", "Infinity", "-Infinity")


@pytest.mark.parametrize("number", ["NaN", "1e400", "100000000000000000000000000000"])
async def test_free_json_holds_only_what_comes_back_as_sent(
    client: httpx.AsyncClient, number: str
) -> None:
    """``data`` with NaN was stored as null, 10**29 came back as 1e+29."""
    body = b'{"data": {"x": [NUMBER]}}'.replace(b"NUMBER", number.encode())
    r = await client.put(f"{WM}/s", content=body, headers=JSON)
    assert_4xx_with_reason(r, 422)
    assert "x[0]" in r.text
    memory = b'{"memories": [{"text": "t", "metadata": {"x": NUMBER}}]}'.replace(
        b"NUMBER", number.encode()
    )
    assert_4xx_with_reason(await client.post(f"{LTM}/", content=memory, headers=JSON), 422)


async def test_a_huge_context_window_is_a_422(client: httpx.AsyncClient) -> None:
    assert (await client.put(f"{WM}/s", json={})).status_code == 200
    r = await client.get(f"{WM}/s", params={"context_window_max": "1" + "0" * 400})
    assert_4xx_with_reason(r, 422)


def test_the_bounds_are_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    from remem.api.app import create_app

    schema = json.loads(json.dumps(create_app(Settings(redis_url="redis://unused")).openapi()))
    models = schema["components"]["schemas"]
    assert models["SearchRequest"]["properties"]["offset"]["maximum"] == MAX_SEARCH_OFFSET
    ttl = models["UpdateWorkingMemory"]["properties"]["ttl_seconds"]["anyOf"][0]
    assert ttl["maximum"] == MAX_TTL_SECONDS
    assert models["MemoryRecord"]["properties"]["access_count"]["maximum"] == MAX_COUNT
    assert "0001-01-01" in models["MemoryRecord"]["properties"]["created_at"]["description"]
    listing = schema["paths"]["/v1/working-memory/"]["get"]["parameters"]
    offset = next(p for p in listing if p["name"] == "offset")
    assert offset["schema"]["maximum"] == MAX_COUNT


async def test_a_session_edited_by_hand_is_a_409_naming_the_field(
    client: httpx.AsyncClient, settings: Settings, raw_redis: aioredis.Redis
) -> None:
    assert (await client.put(f"{WM}/s", json={"namespace": "n", "user_id": "u"})).status_code == 200
    key = Keys(settings.key_prefix).working_memory("s", "u", "n")
    await raw_redis.execute_command("JSON.SET", key, "$.tokens", "1e29")
    got = await client.get(f"{WM}/s", params={"namespace": "n", "user_id": "u"})
    assert_4xx_with_reason(got, 409)
    assert got.json()["code"] == "unreadable" and "tokens" in got.json()["detail"]
    assert (await client.get(f"{WM}/", params={"namespace": "n"})).json()["sessions"] == ["s"]
    r = await client.put(f"{WM}/s", json={"namespace": "n", "user_id": "u"})
    assert r.status_code == 200, r.text
    assert (
        await client.get(f"{WM}/s", params={"namespace": "n", "user_id": "u"})
    ).status_code == 200
