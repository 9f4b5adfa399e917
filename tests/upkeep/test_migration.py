"""`remem migrate`: Agent Memory Server working memory (string and JSON keys, `sessions` sorted
sets, its own index) moved into remem's layout, checked through the HTTP API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from redis.asyncio import Redis

from remem.config import Settings
from remem.runtime import Resources
from remem.store.keys import Keys, LegacyKeys
from remem.upkeep.migrate import MigrationReport, run_migration

WM = "/v1/working-memory"
HOSTILE_NS = "a b:c{d}|e-f*g\"h\\i,j'k(l)m~n$o@p"
HOSTILE_USER = "ünïcödé 日本語 😀:x"
CREATED = 1_700_000_000


async def clear_legacy(r: Redis) -> None:
    """Delete every AMS key: they are global in the one test Redis, unlike remem's prefix."""
    for pattern in (LegacyKeys.working_memory_pattern, LegacyKeys.sessions_pattern):
        keys = [k async for k in r.scan_iter(match=pattern, count=1000)]
        if keys:
            await r.delete(*keys)


def ams_doc(
    session_id: str | None,
    *,
    namespace: str | None = None,
    user_id: str | None = None,
    contents: tuple[str, ...] = ("hello", "hi there"),
    created_at: int | str = CREATED,
    **extra: Any,
) -> dict[str, Any]:
    """A working-memory document as AMS 0.12-0.15 stores it."""
    doc: dict[str, Any] = {
        "messages": [
            {
                "role": "user" if i % 2 == 0 else "assistant",
                "content": text,
                "id": f"{session_id}-m{i}",
                "created_at": f"2024-05-01T10:00:0{i % 10}Z",
                "persisted_at": None,
                "discrete_memory_extracted": "f",
            }
            for i, text in enumerate(contents)
        ],
        "memories": [],
        "context": f"summary of {session_id}",
        "data": {"k": [1, {"x": None}]},
        "user_id": user_id,
        "tokens": 12,
        "session_id": session_id,
        "namespace": namespace,
        "ttl_seconds": None,
        "long_term_memory_strategy": {"strategy": "discrete", "config": {}},
        "last_accessed": created_at,
        "created_at": created_at,
        "updated_at": created_at,
    }
    doc.update(extra)
    return doc


async def put_ams(
    r: Redis,
    doc: dict[str, Any],
    *,
    as_json: bool,
    ttl: int | None = None,
    key: str | None = None,
) -> str:
    """Write ``doc`` as AMS would: a RedisJSON document (0.12+) or a JSON string (<= 0.9)."""
    key = key or LegacyKeys.working_memory(doc["session_id"], doc["user_id"], doc["namespace"])
    if as_json:
        await r.execute_command("JSON.SET", key, "$", json.dumps(doc))
    else:
        await r.set(key, json.dumps(doc))
    if ttl:
        await r.expire(key, ttl)
    return key


@pytest.fixture
async def legacy(redis_url: str) -> AsyncIterator[Redis]:
    """A bytes client on the test Redis, with no AMS keys before and after the test."""
    r = Redis.from_url(redis_url)
    await clear_legacy(r)
    yield r
    await clear_legacy(r)
    await r.aclose()


async def build_layout(r: Redis) -> None:
    """Strings with and without TTL, JSON docs, hostile ids, twins, sorted sets, one corrupt."""
    await put_ams(r, ams_doc("plain"), as_json=False)
    await put_ams(
        r, ams_doc("chat:42", namespace="team:alpha", user_id="user:1"), as_json=False, ttl=3600
    )
    iso = ams_doc(
        "{x}", namespace=HOSTILE_NS, user_id=HOSTILE_USER, created_at="2024-01-02T03:04:05"
    )
    await put_ams(r, iso, as_json=True, ttl=7200)
    await put_ams(r, ams_doc("twin", namespace="n1", contents=("in n1",)), as_json=True)
    await put_ams(r, ams_doc("twin", namespace="n2", contents=("in n2",)), as_json=False)
    lost = ams_doc(None, namespace="n1")  # AMS 0.9: no session_id nor strategy in the document
    del lost["long_term_memory_strategy"]
    await put_ams(r, lost, as_json=True, key="working_memory:n1:lost")
    await r.set("working_memory:corrupt", b"{not json")
    await r.zadd("sessions", {"plain": 1, "dead-a": 2})
    await r.zadd("sessions:n1", {"twin": 1, "lost": 2, "dead-b": 3})
    await r.zadd("sessions:n2", {"twin": 1, "dead-c": 2})


async def migrate(settings: Settings, **kwargs: Any) -> tuple[MigrationReport, list[str]]:
    printed: list[str] = []
    report = await run_migration(settings, echo=printed.append, progress=printed.append, **kwargs)
    return report, printed


async def sessions(client: httpx.AsyncClient, **params: str) -> tuple[int, set[str]]:
    r = await client.get(f"{WM}/", params={"limit": 100, **params})
    assert r.status_code == 200, r.text
    return r.json()["total"], set(r.json()["sessions"])


async def legacy_keys(r: Redis) -> list[bytes]:
    found = [k async for k in r.scan_iter(match=LegacyKeys.working_memory_pattern)]
    return sorted(found + [k async for k in r.scan_iter(match=LegacyKeys.sessions_pattern)])


async def test_moves_every_session_with_its_fields_and_ttl(
    legacy: Redis, settings: Settings, client: httpx.AsyncClient
) -> None:
    await build_layout(legacy)
    report, printed = await migrate(settings)

    assert (report.strings_moved, report.json_moved, report.already_present) == (3, 3, 0)
    assert list(report.skipped) == ["working_memory:corrupt"]
    assert "unparseable JSON" in report.skipped["working_memory:corrupt"]
    assert (report.sets_removed, report.members_live, report.members_dead) == (3, 4, 3)
    assert "migrated 7 / 7 keys" in printed
    assert await legacy_keys(legacy) == [b"working_memory:corrupt"]

    assert await sessions(client) == (6, {"plain", "chat:42", "{x}", "twin", "lost"})
    assert await sessions(client, namespace="n1") == (2, {"twin", "lost"})
    assert await sessions(client, namespace="n2") == (1, {"twin"})
    assert await sessions(client, namespace=HOSTILE_NS) == (1, {"{x}"})
    assert await sessions(client, namespace="team:alpha", user_id="user:1") == (1, {"chat:42"})

    got = await client.get(f"{WM}/{quote('chat:42', safe='')}", params={"namespace": "team:alpha"})
    doc = got.json()
    assert [(m["role"], m["content"], m["id"]) for m in doc["messages"]] == [
        ("user", "hello", "chat:42-m0"),
        ("assistant", "hi there", "chat:42-m1"),
    ]
    assert datetime.fromisoformat(doc["messages"][1]["created_at"]).second == 1
    assert datetime.fromisoformat(doc["created_at"]).timestamp() == CREATED
    assert (doc["user_id"], doc["context"], doc["data"]) == (
        "user:1",
        "summary of chat:42",
        {"k": [1, {"x": None}]},
    )
    twin = await client.get(f"{WM}/twin", params={"namespace": "n2"})
    assert twin.json()["messages"][0]["content"] == "in n2"
    hostile = await client.get(f"{WM}/{quote('{x}', safe='')}", params={"namespace": HOSTILE_NS})
    assert hostile.json()["user_id"] == HOSTILE_USER
    assert hostile.json()["created_at"].startswith("2024-01-02T03:04:05")

    keys = Keys(settings.key_prefix)
    ttls = [
        await legacy.pttl(keys.working_memory("chat:42", "user:1", "team:alpha")),
        await legacy.pttl(keys.working_memory("{x}", HOSTILE_USER, HOSTILE_NS)),
        await legacy.pttl(keys.working_memory("plain", None, None)),
    ]
    assert 3_590_000 < ttls[0] <= 3_600_000 and 7_190_000 < ttls[1] <= 7_200_000
    assert ttls[2] == -1  # no TTL before, none after
    # The document says when its key expires, to the millisecond, for listing to filter on.
    for key, ttl in zip(
        [
            keys.working_memory("chat:42", "user:1", "team:alpha"),
            keys.working_memory("plain", None, None),
        ],
        [ttls[0], ttls[2]],
        strict=True,
    ):
        (expires_at,) = json.loads(await legacy.execute_command("JSON.GET", key, "$.expires_at"))
        expiry_ms = await legacy.pexpiretime(key)
        assert expires_at == (None if ttl == -1 else expiry_ms / 1000)


async def test_a_second_run_has_nothing_to_do(legacy: Redis, settings: Settings) -> None:
    await build_layout(legacy)
    await migrate(settings)
    again, printed = await migrate(settings)
    assert again.nothing_to_do
    assert list(again.skipped) == ["working_memory:corrupt"]  # still reported, still in place
    assert "remem migrate: nothing to do" in printed[-1]


async def test_a_dry_run_changes_nothing_and_predicts_the_run(
    legacy: Redis, settings: Settings
) -> None:
    await build_layout(legacy)
    await legacy.expire("working_memory:plain", 1000)

    async def snapshot() -> dict[bytes, Any]:
        """What the migration reads or writes: AMS's keys and this test's remem keys. Not every
        key of the Redis the suite shares: an earlier test's leftovers (a session expiring, a
        worker's heartbeat) change on their own, and CI once failed on one."""
        legacy_patterns = (LegacyKeys.working_memory_pattern, LegacyKeys.sessions_pattern)
        patterns = (*legacy_patterns, f"{LegacyKeys.memory_prefix}:*", f"{settings.key_prefix}*")
        keys = [k for p in patterns async for k in legacy.scan_iter(match=p, count=1000)]
        return {k: (await legacy.type(k), await legacy.dump(k)) for k in keys}

    before = await snapshot()
    assert len(before) >= 9  # the layout: AMS keys the dry run must leave as they are
    predicted, _ = await migrate(settings, dry_run=True)
    assert await snapshot() == before
    done, _ = await migrate(settings)
    predicted.long_term.seconds = done.long_term.seconds  # how long it took: not predicted
    assert asdict(predicted) == {**asdict(done), "dry_run": True}


async def test_a_session_already_in_remem_is_kept_and_the_legacy_copy_removed(
    legacy: Redis, settings: Settings, client: httpx.AsyncClient
) -> None:
    body = {"namespace": "n1", "messages": [{"role": "user", "content": "newer"}]}
    assert (await client.put(f"{WM}/kept", json=body)).status_code == 200
    await put_ams(legacy, ams_doc("kept", namespace="n1", contents=("older",)), as_json=True)
    report, _ = await migrate(settings)
    assert (report.already_present, report.json_moved) == (1, 0)
    got = await client.get(f"{WM}/kept", params={"namespace": "n1"})
    assert got.json()["messages"][0]["content"] == "newer"
    assert await legacy_keys(legacy) == []


async def test_values_that_cannot_be_moved_are_left_in_place_with_a_reason(
    legacy: Redis, settings: Settings
) -> None:
    await put_ams(legacy, ams_doc("bad\x01id"), as_json=False, key="working_memory:ctl")
    await put_ams(legacy, ams_doc("m", messages="oops"), as_json=True, key="working_memory:msg")
    await put_ams(
        legacy, ams_doc("t", created_at="yesterday"), as_json=True, key="working_memory:t"
    )
    deep: dict[str, Any] = {}
    for _ in range(200):  # deeper than RedisJSON accepts: refused by the server, not by us
        deep = {"d": deep}
    await put_ams(legacy, ams_doc("deep", data=deep), as_json=False, key="working_memory:deep")
    await legacy.set("working_memory:list", "[1, 2]")
    await legacy.set("working_memory:bin", b"\xff\xfe{")
    await legacy.hset("working_memory:hash", "a", "b")
    await legacy.set("working_memory:migration:complete", "true")  # AMS's own marker: removed
    report, printed = await migrate(settings)
    assert report.skipped == {
        "working_memory:ctl": "session_id must not contain control characters",
        "working_memory:msg": "invalid messages: Input should be a valid list",
        "working_memory:t": "unreadable timestamp 'yesterday'",
        "working_memory:list": "not a JSON object but list",
        "working_memory:bin": report.skipped["working_memory:bin"],
        "working_memory:hash": "unexpected Redis type hash",
        "working_memory:deep": report.skipped["working_memory:deep"],
    }
    assert report.skipped["working_memory:deep"].startswith("Redis refused it: recursion limit")
    assert report.skipped["working_memory:bin"].startswith("unparseable JSON")
    assert report.markers_removed == 1
    assert len(await legacy_keys(legacy)) == 7
    assert "working_memory:hash: unexpected Redis type hash" in printed[-1]


async def test_the_agent_memory_server_index_is_replaced_by_remems_alias(
    legacy: Redis, settings: Settings
) -> None:
    name = settings.working_memory_index  # AMS's `working_memory_idx`, as the tests name it
    fields = ["$.session_id", "AS", "session_id", "TAG", "$.namespace", "AS", "namespace", "TAG"]
    await legacy.execute_command(
        "FT.CREATE", name, "ON", "JSON", "PREFIX", "1", "working_memory:", "SCHEMA", *fields
    )
    try:
        await put_ams(legacy, ams_doc("s", namespace="ns"), as_json=True)
        dry, _ = await migrate(settings, dry_run=True)
        assert dry.indexes_dropped == [name]
        assert (await legacy.ft(name).info())["index_name"] == name  # still a real index
        report, _ = await migrate(settings)
        assert report.indexes_dropped == [name] and report.json_moved == 1
        async with Resources(settings) as res:  # starts: the name is remem's alias now
            info = await res.redis.execute_command("FT.INFO", name)
            assert info["index_name"] != name
            listed = await res.working.list_sessions(
                namespace="ns", user_id=None, limit=10, offset=0, sort="created_at", descending=True
            )
            assert listed.sessions == ["s"]
    finally:
        if name.encode() in await legacy.execute_command("FT._LIST"):
            await legacy.execute_command("FT.DROPINDEX", name)


async def test_the_cli_migrates(
    legacy: Redis, settings: Settings, redis_url: str, client: httpx.AsyncClient
) -> None:
    await put_ams(legacy, ams_doc("via-cli", namespace="cli"), as_json=False, ttl=600)
    await legacy.zadd("sessions:cli", {"via-cli": 1, "gone": 2})
    env = {
        **os.environ,
        "REMEM_KEY_PREFIX": settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
    }
    done = await asyncio.to_thread(
        subprocess.run,
        ["remem", "migrate", "--redis-url", redis_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "migrated 1 / 1 keys" in done.stderr
    assert "1 string and 0 JSON documents" in done.stdout
    assert "1 live and 1 dead" in done.stdout
    assert await sessions(client, namespace="cli") == (1, {"via-cli"})
    assert await legacy_keys(legacy) == []


async def test_five_thousand_sessions_move_in_seconds(
    legacy: Redis, settings: Settings, client: httpx.AsyncClient
) -> None:
    n = 5_000
    async with legacy.pipeline(transaction=False) as pipe:
        for i in range(n):
            doc = json.dumps(ams_doc(f"s{i}", namespace="bulk", user_id=f"u{i % 7}"))
            key = LegacyKeys.working_memory(f"s{i}", f"u{i % 7}", "bulk")
            if i % 2:
                pipe.execute_command("JSON.SET", key, "$", doc)
            else:
                pipe.set(key, doc, ex=3600)
        pipe.zadd("sessions:bulk", {f"s{i}": i for i in range(n + 1_000)})
        await pipe.execute()
    started = time.monotonic()
    report, printed = await migrate(settings, batch=500)
    elapsed = time.monotonic() - started
    assert (report.strings_moved, report.json_moved) == (n // 2, n // 2)
    assert (report.members_live, report.members_dead) == (n, 1_000)
    assert f"migrated {n:,} / {n:,} keys" in printed
    assert elapsed < 10, elapsed
    assert (await sessions(client, namespace="bulk"))[0] == n
    assert await legacy_keys(legacy) == []
