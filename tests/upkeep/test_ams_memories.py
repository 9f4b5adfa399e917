"""`remem migrate` on what the real Agent Memory Server 0.15.2 wrote (tests/fixtures/ams): every
session and long-term memory read back through remem's API equal to what AMS's own API answered,
a second run with nothing to do, an interrupted run finished by the next, and the layouts of
other AMS versions handled or refused with a reason."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pytest
from redis.asyncio import Redis

from remem.config import Settings
from remem.embeddings.hashing import HashingEmbedder
from remem.errors import InvalidInput
from remem.store.keys import Keys
from remem.store.legacy import LegacySource
from remem.store.longterm.documents import MemoryDocuments
from remem.store.longterm.layout import VECTOR_DTYPE
from remem.upkeep.ams_memories import AmsMemories, AmsMemoryReport
from remem.upkeep.migrate import MigrationReport, run_migration
from tests.ams_fixture import AmsFixture, AmsMemory, clear_ams_keys, load_ams_fixture

LT = "/v1/long-term-memory"
WM = "/v1/working-memory"
# Fields remem makes itself: its own hash of the text (its deduplication reads it).
DERIVED = {"memory_hash"}
DATES = ("created_at", "updated_at", "last_accessed", "persisted_at", "event_date")


async def clear_all_ams(r: Redis) -> None:
    """The fixture's keys and indexes, and any AMS-named key a test made beside them."""
    await clear_ams_keys(r)
    for pattern in ("memory_idx*", "team_mem*", "working_memory:*", "auth_token:*"):
        keys = [k async for k in r.scan_iter(match=pattern, count=1000)]
        if keys:
            await r.delete(*keys)


@pytest.fixture
async def ams(redis_url: str) -> AsyncIterator[tuple[Redis, AmsFixture]]:
    r = Redis.from_url(redis_url)
    await clear_all_ams(r)
    fixture = await load_ams_fixture(r)
    yield r, fixture
    await clear_all_ams(r)
    await r.aclose()


async def migrate(settings: Settings, **kwargs: Any) -> tuple[MigrationReport, list[str]]:
    printed: list[str] = []
    report = await run_migration(settings, echo=printed.append, progress=printed.append, **kwargs)
    return report, printed


def when(value: str | None) -> float | None:
    return None if value is None else datetime.fromisoformat(value).timestamp()


def assert_same_record(got: dict[str, Any], memory: AmsMemory) -> None:
    """remem's record equals AMS's answer for the same memory, every field but the derived
    ones; dates equal to the microsecond to the hash AMS stored (its API rounds them)."""
    for name, expected in memory.api_view.items():
        if name in DERIVED:
            continue
        if name in DATES:
            stored = memory.stored.get(name)
            exact = None if stored in (None, "") else float(stored)
            if exact is None:
                assert expected is None and got[name] is None, (name, got[name], expected)
            else:
                assert when(got[name]) == pytest.approx(exact, abs=1e-6), (name, got, stored)
        else:
            assert got[name] == expected, (name, got[name], expected)


async def ams_keys(r: Redis) -> list[bytes]:
    return [k async for k in r.scan_iter(match="memory_idx*", count=1000)]


async def test_every_memory_moves_with_every_field_and_a_second_run_does_nothing(
    ams: tuple[Redis, AmsFixture], settings: Settings, client: httpx.AsyncClient
) -> None:
    r, fixture = ams
    report, _ = await migrate(settings)
    assert report.long_term.moved == len(fixture.memories) == 16
    assert report.long_term.index_dropped and not report.skipped
    assert await ams_keys(r) == []
    assert b"memory_records" not in await r.execute_command("FT._LIST")
    for memory in fixture.memories:
        got = await client.get(f"{LT}/{memory.id}")
        assert got.status_code == 200, got.text
        assert_same_record(got.json(), memory)
    again, _ = await migrate(settings)
    assert again.nothing_to_do, again.summary()


async def test_every_memory_is_found_by_a_filtered_search_with_equal_fields(
    ams: tuple[Redis, AmsFixture], settings: Settings, client: httpx.AsyncClient
) -> None:
    _, fixture = ams
    await migrate(settings)
    for memory in fixture.memories:
        view = memory.api_view
        body: dict[str, Any] = {"text": view["text"], "limit": 3, "search_mode": "hybrid"}
        for name in ("namespace", "user_id", "session_id"):
            if view[name]:
                body[name] = {"eq": view[name]}
        body["memory_type"] = {"eq": view["memory_type"]}
        if view["topics"]:
            body["topics"] = {"any": view["topics"][:1]}
        found = await client.post(f"{LT}/search", json=body)
        assert found.status_code == 200, found.text
        hits = {m["id"]: m for m in found.json()["memories"]}
        assert memory.id in hits, (memory.id, body, list(hits))
        assert_same_record(hits[memory.id], memory)


async def test_every_session_lists_and_reads_back_as_ams_answered(
    ams: tuple[Redis, AmsFixture], settings: Settings, client: httpx.AsyncClient
) -> None:
    _, fixture = ams
    report, _ = await migrate(settings)
    assert report.json_moved == len(fixture.sessions)
    for session in fixture.sessions:
        params = {k: v for k, v in (("namespace", session.namespace),) if v}
        listed = await client.get(f"{WM}/", params={**params, "limit": 100})
        assert session.session_id in listed.json()["sessions"], (session.session_id, params)
        if session.user_id:
            params["user_id"] = session.user_id
        got = await client.get(f"{WM}/{session.session_id}", params=params)
        assert got.status_code == 200, got.text
        mine, theirs = got.json(), session.api_view
        for name in (
            "messages",
            "memories",
            "data",
            "context",
            "user_id",
            "session_id",
            "namespace",
            "ttl_seconds",
            "long_term_memory_strategy",
        ):
            assert mine[name] == theirs[name] or _same_items(mine[name], theirs[name]), (
                session.session_id,
                name,
                mine[name],
                theirs[name],
            )
        for name in ("created_at", "updated_at"):
            assert abs(when(mine[name]) - when(theirs[name])) < 1e-3, (name, mine, theirs)


def _same_items(mine: Any, theirs: Any) -> bool:
    """Lists of messages or memories equal field by field, dates to the millisecond."""
    if not isinstance(mine, list) or not isinstance(theirs, list) or len(mine) != len(theirs):
        return False
    for a, b in zip(mine, theirs, strict=True):
        for name, value in b.items():
            if name in DATES or name == "created_at":
                if abs((when(a.get(name)) or 0) - (when(value) or 0)) > 1e-3:
                    return False
            elif a.get(name) != value:
                return False
    return True


async def snapshot(r: Redis) -> dict[bytes, Any]:
    keys = [k async for k in r.scan_iter(count=1000)]
    return {k: (await r.type(k), await r.dump(k)) for k in keys}


async def test_a_dry_run_counts_and_changes_nothing(
    ams: tuple[Redis, AmsFixture], settings: Settings
) -> None:
    r, fixture = ams
    before = await snapshot(r)
    predicted, printed = await migrate(settings, dry_run=True)
    assert await snapshot(r) == before
    assert predicted.long_term.moved == len(fixture.memories)
    assert predicted.json_moved == len(fixture.sessions)
    assert "AMS long-term memories to move: 16 of 16" in printed[-1]
    done, _ = await migrate(settings)
    assert (done.long_term.moved, done.long_term.sources_removed) == (
        predicted.long_term.moved,
        predicted.long_term.sources_removed,
    )


async def test_keep_source_copies_and_leaves_ams_as_it_was(
    ams: tuple[Redis, AmsFixture], settings: Settings, client: httpx.AsyncClient
) -> None:
    r, fixture = ams
    hashes = {m.key: await r.hgetall(m.key) for m in fixture.memories}
    report, _ = await migrate(settings, keep_source=True)
    assert report.long_term.moved == 16 and not report.long_term.index_dropped
    assert {m.key: await r.hgetall(m.key) for m in fixture.memories} == hashes
    assert b"memory_records" in await r.execute_command("FT._LIST")
    again, _ = await migrate(settings, keep_source=True)
    assert (again.long_term.moved, again.long_term.already_present) == (0, 16)
    found = await client.post(f"{LT}/search", json={"text": "", "limit": 100})
    assert found.json()["total"] == 16  # nothing doubled
    final, _ = await migrate(settings)  # and the AMS copies can go later
    assert final.long_term.sources_removed == 16 and await ams_keys(r) == []


async def test_a_migration_killed_halfway_finishes_on_the_next_run(
    ams: tuple[Redis, AmsFixture], settings: Settings, redis_url: str, client: httpx.AsyncClient
) -> None:
    r, fixture = ams
    n = 3_000 + len(fixture.memories)
    async with r.pipeline(transaction=False) as pipe:  # the real hashes again, under new ids
        for i in range(n - len(fixture.memories)):
            memory = fixture.memories[i % len(fixture.memories)]
            copy = {**memory.stored, "id_": f"copy-{i:05d}", "text": f"{memory.stored['text']} {i}"}
            pipe.hset(f"memory_idx:copy-{i:05d}", mapping=copy)
        await pipe.execute()
    env = {
        **os.environ,
        "REMEM_KEY_PREFIX": settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
        "REMEM_LONG_TERM_MEMORY_INDEX": settings.long_term_memory_index,
    }
    command = [
        shutil.which("remem") or "remem",
        "migrate",
        "--redis-url",
        redis_url,
        "--batch",
        "100",
    ]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    seen = []
    async with asyncio.timeout(120):
        while line := (await process.stderr.readline()).decode():
            seen.append(line)
            if "AMS long-term memories" in line and int(line.split()[1].replace(",", "")) >= 1000:
                process.send_signal(signal.SIGKILL)
                break
        await process.wait()
    assert process.returncode == -signal.SIGKILL, seen
    keys = Keys(settings.key_prefix)
    copied = {k async for k in r.scan_iter(match=f"{keys.memory_prefix}*", count=1000)}
    left = await ams_keys(r)
    assert 1000 <= len(copied) < n and len(left) > 0  # really halfway
    assert len(copied) + len(left) >= n  # nothing lost (a memory may be in both)
    report, _ = await migrate(settings)
    assert report.long_term.moved + report.long_term.already_present == len(left)
    assert await ams_keys(r) == [] and not report.skipped
    found = await client.post(f"{LT}/search", json={"text": "", "limit": 1})
    assert found.json()["total"] == n  # nothing doubled
    got = await client.get(f"{LT}/copy-02999")
    assert got.status_code == 200 and got.json()["text"].endswith(" 2999")


async def test_reuse_vectors_is_refused_for_a_model_of_another_size(
    ams: tuple[Redis, AmsFixture], settings: Settings
) -> None:
    r, _ = ams
    before = await snapshot(r)
    with pytest.raises(InvalidInput, match="1,536 bytes, where remem's model needs 256"):
        await migrate(settings, reuse_vectors=True)
    keys = Keys(settings.key_prefix)
    assert [k async for k in r.scan_iter(match=f"{keys.memory_prefix}*")] == []
    assert {k: v for k, v in (await snapshot(r)).items() if k.startswith(b"memory_idx")} == {
        k: v for k, v in before.items() if k.startswith(b"memory_idx")
    }


async def test_reuse_vectors_keeps_the_ams_vectors(
    ams: tuple[Redis, AmsFixture], settings: Settings, redis_url: str
) -> None:
    r, fixture = ams
    keys = Keys(settings.key_prefix)
    documents = MemoryDocuments(r, keys)
    text_client = Redis.from_url(redis_url, decode_responses=True)
    try:
        report = await AmsMemories(
            text_client,
            LegacySource(r),
            documents,
            HashingEmbedder(384),
            AmsMemoryReport(),
            reuse_vectors=True,
            progress=lambda _: None,
        ).run()
        assert report.moved == 16
        stored = await documents.get_many([m.id for m in fixture.memories])
    finally:
        await documents.aclose()
        await text_client.aclose()
    for memory, doc in zip(fixture.memories, stored, strict=True):
        assert doc is not None
        ams_vector = np.frombuffer(memory.stored["vector"], dtype=np.float32)
        expected = ams_vector.astype(VECTOR_DTYPE).astype(np.float64)
        assert np.array_equal(np.asarray(doc["embedding"]), expected), memory.id


def variant(memory: AmsMemory, **changes: Any) -> dict[str, Any]:
    """A real AMS hash with some fields changed (None: the field removed)."""
    fields = {**memory.stored, **changes}
    return {k: v for k, v in fields.items() if v is not None}


async def test_older_layouts_and_unreadable_hashes(
    ams: tuple[Redis, AmsFixture], settings: Settings, client: httpx.AsyncClient
) -> None:
    r, fixture = ams
    episodic = next(m for m in fixture.memories if m.stored.get("event_date"))
    iso = {
        n: datetime.fromtimestamp(float(episodic.stored[n]), UTC).isoformat()
        for n in ("created_at", "updated_at", "last_accessed", "event_date")
    }
    # AMS 0.12-0.13 (LangChain's RedisVectorStore): `embedding` for the vector, `id` beside
    # `id_`; dates in ISO 8601 as some of its adapters wrote them.
    old = variant(
        episodic,
        id_=None,
        id="old-layout",
        vector=None,
        embedding=episodic.stored["vector"],
        **iso,
    )
    await r.hset("memory_idx:old-layout", mapping=old)
    await r.hset("memory_idx:no-text", mapping=variant(episodic, id_="no-text", text=None))
    await r.hset(
        "memory_idx:bad-date", mapping=variant(episodic, id_="bad-date", created_at="soon")
    )
    await r.hset("memory_idx:bad-id", mapping=variant(episodic, id_=" padded "))
    await r.set("auth_token:0123abcd", "{}")
    # An id remem already holds, with another text: both are kept.
    taken = fixture.memories[0]
    made = await client.post(f"{LT}/", json={"memories": [{"id": taken.id, "text": "mine"}]})
    assert made.status_code == 200, made.text
    report, printed = await migrate(settings)
    skipped = report.skipped
    assert "no text; fields found: " in skipped["memory_idx:no-text"]
    assert "unreadable timestamp 'soon'" in skipped["memory_idx:bad-date"]
    assert "must not start or end with whitespace" in skipped["memory_idx:bad-id"]
    assert "remem already holds a different memory" in skipped[taken.key]
    assert report.long_term.moved == len(fixture.memories)  # 15 of the fixture + old-layout
    assert report.long_term.index_dropped  # AMS recreates it over what is left if it starts
    assert sorted(await ams_keys(r)) == sorted(
        k.encode()
        for k in ("memory_idx:no-text", "memory_idx:bad-date", "memory_idx:bad-id", taken.key)
    )
    assert (await client.get(f"{LT}/{taken.id}")).json()["text"] == "mine"
    got = (await client.get(f"{LT}/old-layout")).json()
    assert got["text"] == episodic.api_view["text"]
    assert when(got["event_date"]) == pytest.approx(float(episodic.stored["event_date"]), abs=1e-6)
    assert got["topics"] == episodic.api_view["topics"]
    assert any("1 keys auth_token:* (AMS API tokens" in line for line in printed[-1].splitlines())


async def test_a_custom_prefix_is_remembered_after_its_index_is_dropped(
    ams: tuple[Redis, AmsFixture], settings: Settings, client: httpx.AsyncClient
) -> None:
    """AMS's REDISVL_INDEX_PREFIX names another prefix: the index tells it, and once the first
    run has dropped the index, the next runs still find the memories it left."""
    r, fixture = ams
    await clear_all_ams(r)
    args = list(fixture.indexes["memory_records"])
    args[args.index("memory_idx")] = "team_mem"
    await r.execute_command("FT.CREATE", "memory_records", *args)
    first, second = fixture.memories[:2]
    await r.hset(f"team_mem:{first.id}", mapping=first.stored)
    await r.hset(f"team_mem:{second.id}", mapping=variant(second, text=None))
    report, _ = await migrate(settings)
    assert report.long_term.prefixes == ["team_mem"] and report.long_term.moved == 1
    assert f"team_mem:{second.id}" in report.skipped
    assert b"memory_records" not in await r.execute_command("FT._LIST")
    await r.hset(f"team_mem:{second.id}", "text", "fixed by hand")
    again, _ = await migrate(settings)
    assert again.long_term.prefixes == ["team_mem"] and again.long_term.moved == 1
    assert (await client.get(f"{LT}/{second.id}")).json()["text"] == "fixed by hand"
    assert [k async for k in r.scan_iter(match="team_mem*")] == []
    last, _ = await migrate(settings)  # the prefix is forgotten once nothing is left
    assert last.long_term.prefixes == ["memory_idx"] and last.nothing_to_do
