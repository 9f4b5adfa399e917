"""The AMS 0.15.2 fixture (tests/fixtures/ams/) loads back as the real server left it: its
indexes with the recorded definition, every memory and session findable through them, TTLs
where it had them; and clear_ams_keys leaves none of it behind."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.ams_fixture import AmsFixture, clear_ams_keys, load_ams_fixture, read_fixture


def text(value: Any) -> Any:
    """Bytes decoded, through dicts and lists (RESP3 answers nest them)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {text(k): text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [text(v) for v in value]
    return value


@pytest.fixture
async def ams(redis_url: str) -> AsyncIterator[tuple[Redis, AmsFixture]]:
    """A bytes client on the test Redis with the fixture loaded; nothing of it before or after."""
    r = Redis.from_url(redis_url, protocol=3)
    await clear_ams_keys(r)
    fixture = await load_ams_fixture(r)
    yield r, fixture
    await clear_ams_keys(r)
    await r.aclose()


async def info(r: Redis, name: str) -> dict[str, Any]:
    return text(await r.ft(name).info())


async def search_ids(r: Redis, index: str, query: str, field: str) -> list[str]:
    """FT.SEARCH returning one field of every match (a RESP3 map)."""
    got = await r.execute_command(
        "FT.SEARCH", index, query, "RETURN", "1", field, "LIMIT", "0", "1000", "DIALECT", "2"
    )
    return sorted(doc["extra_attributes"][field] for doc in text(got)["results"])


def test_the_fixture_holds_what_the_task_asked_of_ams() -> None:
    _, f = read_fixture()
    types = {m.api_view["memory_type"] for m in f.memories}
    assert types == {"semantic", "episodic", "message"}
    assert {m.api_view["pinned"] for m in f.memories} == {True, False}
    assert any(m.api_view["access_count"] > 0 for m in f.memories)
    assert any(m.api_view["event_date"] for m in f.memories)
    assert any(m.api_view["namespace"] is None for m in f.memories)
    assert len(f.sessions) >= 6 and {s.had_ttl for s in f.sessions} == {True, False}
    assert {s.namespace for s in f.sessions} == {"ns-alpha", "ns-beta", None}
    # The vector is the one binary value, recorded as base64 and written back as bytes.
    vectors = [m.stored["vector"] for m in f.memories]
    assert all(isinstance(v, bytes) and len(v) == 4 * 384 for v in vectors)


TYPES = {"TEXT", "TAG", "NUMERIC", "VECTOR", "GEO", "GEOSHAPE"}


def recorded_fields(args: list[str]) -> list[tuple[str, str]]:
    """(identifier, attribute) of each field in recorded FT.CREATE arguments."""
    schema = args[args.index("SCHEMA") + 1 :]
    out = []
    for i, token in enumerate(schema[1:], start=1):
        if token in TYPES:
            name = schema[i - 1]
            out.append((schema[i - 3], name) if i >= 3 and schema[i - 2] == "AS" else (name, name))
    return out


@pytest.mark.parametrize(
    ("name", "key_type"), [("memory_records", "HASH"), ("working_memory_idx", "JSON")]
)
async def test_the_indexes_are_created_as_ams_defined_them(
    ams: tuple[Redis, AmsFixture], name: str, key_type: str
) -> None:
    r, f = ams
    args = f.indexes[name]
    got = await info(r, name)
    assert got["index_definition"]["key_type"] == key_type
    assert got["index_definition"]["prefixes"] == [args[args.index("PREFIX") + 2]]
    fields = [(a["identifier"], a["attribute"]) for a in got["attributes"]]
    assert fields == recorded_fields(args)
    assert len(fields) == (19 if name == "memory_records" else 5)
    count = len(f.memories) if name == "memory_records" else len(f.sessions)
    assert int(got["num_docs"]) == count


async def test_every_memory_is_found_by_its_id(ams: tuple[Redis, AmsFixture]) -> None:
    r, f = ams
    ids = sorted(m.id for m in f.memories)
    assert await search_ids(r, "memory_records", "*", "id_") == ids
    for mid in ids:  # a TAG query per id: ULIDs need no escaping, the query is still exact
        assert await search_ids(r, "memory_records", f"@id_:{{{mid}}}", "id_") == [mid]
    pinned = [m.id for m in f.memories if m.api_view["pinned"]]
    assert await search_ids(r, "memory_records", "@pinned:{1}", "id_") == sorted(pinned)


async def test_working_memory_idx_lists_the_sessions(ams: tuple[Redis, AmsFixture]) -> None:
    r, f = ams
    keys = await search_ids(r, "working_memory_idx", "*", "session_id")
    assert keys == sorted(s.session_id for s in f.sessions)
    alpha = await search_ids(r, "working_memory_idx", "@namespace:{ns\\-alpha}", "session_id")
    assert alpha == sorted(s.session_id for s in f.sessions if s.namespace == "ns-alpha")


async def test_keys_come_back_with_their_ttl_and_value(ams: tuple[Redis, AmsFixture]) -> None:
    r, f = ams
    for s in f.sessions:
        pttl = await r.pttl(s.key)
        assert (pttl > 0) is s.had_ttl, s.key
        if s.had_ttl:
            assert pttl <= f.keys[s.key]["pttl"]
        doc = json.loads(await r.execute_command("JSON.GET", s.key, "$"))[0]
        assert doc == s.stored
    for m in f.memories:
        assert await r.pttl(m.key) == -1
        stored = await r.hgetall(m.key)
        assert {text(k): v for k, v in stored.items()} == {
            k: v if isinstance(v, bytes) else v.encode() for k, v in m.stored.items()
        }


async def test_clear_leaves_no_fixture_key_nor_index(redis_url: str) -> None:
    r = Redis.from_url(redis_url, protocol=3)
    try:
        fixture = await load_ams_fixture(r)
        assert await r.exists(*fixture.keys) == len(fixture.keys)
        await clear_ams_keys(r)
        assert await r.exists(*fixture.keys) == 0
        listed = {text(n) for n in await r.execute_command("FT._LIST")}
        assert not listed & set(fixture.indexes)
    finally:
        await clear_ams_keys(r)
        await r.aclose()
