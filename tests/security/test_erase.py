"""Erase over real HTTP: everything of a user or a namespace goes, in one call, with a receipt
in the audit log; others' data stays."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from remem.api.app import create_app
from remem.config import Settings
from remem.runtime import Resources
from remem.store.keys import encode_part
from remem.store.query import tag_equals
from remem.tasks.queue import docket_name
from tests.helpers import assert_4xx_with_reason, wait_until
from tests.security.seed import seed_memories, seed_sessions
from tests.serving import served

USER = "erase-me-7f3a"
OTHER = "keep-me-91c2"


def quiet(settings: Settings) -> Settings:
    """No worker: the sessions' tasks stay pending, so the erase must be what removes them."""
    return settings.model_copy(update={"run_worker": False, "extraction_debounce_seconds": 600})


async def keys_naming(settings: Settings, *needles: str) -> list[str]:
    """Every key under the test's prefix whose name holds one of ``needles`` (a SCAN)."""
    client = aioredis.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        found = []
        async for key in client.scan_iter(match=f"{settings.key_prefix}*", count=1000):
            if any(n in key for n in needles):
                found.append(key)
        return found
    finally:
        await client.aclose()


async def index_count(res: Resources, index: str, field: str, value: str) -> int:
    reply: Any = await res.redis.execute_command(
        "FT.SEARCH", index, tag_equals(field, value), "LIMIT", 0, 0
    )
    return int(reply["total_results"])


@pytest.fixture
async def served_app(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    """The app over real HTTP, and its Resources (to seed data fast)."""
    app = create_app(settings)
    async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield http, app.state.resources


async def redis_cpu(res: Resources) -> float:
    """The time Redis spent running commands, from its own per-command counters (INFO
    commandstats): the erase's commands, when nothing else sends any. Not the main thread's CPU
    as a whole, which also holds the expiry cycle and housekeeping of whatever earlier tests left
    in the shared Redis (a full run measured up to 0.4 s more than the erase alone)."""
    stats = await res.redis.info("commandstats")
    return sum(float(entry["usec"]) for entry in stats.values()) / 1e6


async def pending_tasks(res: Resources) -> list[str]:
    """The work naming the user: due-set members (what writes mark, store.due) and the task
    keys in the Docket's queue and stream."""
    name = docket_name(res.keys)
    queue = await res.redis.zrange(f"{name}:queue", 0, -1)
    queue += await res.redis.zrange(res.keys.tasks_due, 0, -1)
    raw = aioredis.Redis.from_url(res.redis_url)  # the stream holds pickled arguments
    try:
        entries = await raw.xrange(f"{name}:stream")
    finally:
        await raw.aclose()
    stream = [fields.get(b"key", b"").decode() for _, fields in entries]
    return [k for k in [*queue, *stream] if encode_part(USER) in k]


async def test_erasing_a_user_with_10000_memories_and_100_sessions(settings: Settings) -> None:
    """A user with 10,000 memories and 100 sessions (with pending tasks) is erased in under
    2 s: no key names them after, both indexes count none of theirs, and the receipt's counts
    are what was there. Another user's data is untouched."""
    app = create_app(quiet(settings))
    async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        res: Resources = app.state.resources
        await seed_memories(res, USER, "ns-a", 6_000)
        await seed_memories(res, USER, None, 4_000)
        await seed_sessions(res, USER, "ns-a", 60)
        await seed_sessions(res, USER, "ns-b", 40)
        kept = await seed_memories(res, OTHER, "ns-a", 50)
        await seed_sessions(res, OTHER, "ns-a", 3)
        # every session's promotion and extraction is pending
        assert len(await pending_tasks(res)) == 200

        redis_before, here_before = await redis_cpu(res), time.thread_time()
        started = time.perf_counter()
        r = await http.post("/v1/erasures", json={"user_id": USER})
        seconds = time.perf_counter() - started
        in_redis = await redis_cpu(res) - redis_before
        here = time.thread_time() - here_before
        cpu = in_redis + here
        assert r.status_code == 200, r.text
        receipt = r.json()
        # The time Redis ran the erase's commands and the CPU time of this thread, whose event
        # loop runs the server and the client: what the erase costs, and on a quiet machine its
        # duration (bench/erase.py prints that). Neither the wall time of a test sharing its
        # cores with others nor the CPU of threads earlier tests left running is the erase's.
        assert cpu < 2.0, (cpu, in_redis, here, seconds)
        assert receipt["counts"] == {
            "working_memory_sessions": 100,
            "long_term_memories": 10_000,
            "access_counters": 0,
            "task_records": 200,
            "managed_namespaces": 0,
        }
        assert receipt["user_id"] == USER and receipt["namespace"] is None
        assert receipt["requested_by"] == "local"
        assert receipt["started_at"] <= receipt["finished_at"]

        assert await keys_naming(settings, USER, encode_part(USER)) == []
        assert await pending_tasks(res) == []
        lt, wm = settings.long_term_memory_index, settings.working_memory_index
        assert await index_count(res, lt, "user_id", USER) == 0
        assert await index_count(res, wm, "user_id", USER) == 0
        assert await index_count(res, lt, "user_id", OTHER) == 50
        assert await index_count(res, wm, "user_id", OTHER) == 3
        assert (await http.get(f"/v1/long-term-memory/{kept[0]}")).status_code == 200

        audit = (await http.get("/v1/audit", params={"limit": 5})).json()
        assert audit[0]["action"] == "erase"
        assert audit[0]["details"]["id"] == receipt["id"]
        assert audit[0]["details"]["counts"] == receipt["counts"]


async def test_erasing_a_user_within_a_namespace_keeps_their_other_namespaces(
    served_app: tuple[httpx.AsyncClient, Resources],
) -> None:
    """With a namespace, only the user's data there goes; an access counter goes with its
    memory."""
    client, resources = served_app
    await seed_memories(resources, USER, "ns-a", 20)
    elsewhere = await seed_memories(resources, USER, "ns-b", 5)
    r = await client.post(
        "/v1/long-term-memory/search", json={"text": "fact", "user_id": {"eq": USER}, "limit": 30}
    )
    assert r.status_code == 200, r.text
    await resources.long_term.access.flush()
    r = await client.post("/v1/erasures", json={"user_id": USER, "namespace": "ns-a"})
    assert r.status_code == 200, r.text
    counts = r.json()["counts"]
    assert counts["long_term_memories"] == 20
    assert counts["access_counters"] == 20
    left = await client.get(f"/v1/long-term-memory/{elsewhere[0]}")
    assert left.status_code == 200


async def test_erasing_a_namespace(served_app: tuple[httpx.AsyncClient, Resources]) -> None:
    """A namespace's sessions and memories go, every user's; other namespaces stay."""
    client, resources = served_app
    await seed_memories(resources, USER, "gone", 10)
    await seed_memories(resources, None, "gone", 10)
    await seed_sessions(resources, OTHER, "gone", 2)
    kept = await seed_memories(resources, USER, "stays", 3)
    lt = resources.settings.long_term_memory_index

    async def promoted() -> bool:  # each session's one memory, by the in-process worker
        return await index_count(resources, lt, "user_id", OTHER) == 2

    await wait_until(promoted)
    for name in ("a", "b"):  # the managed API's namespace resources of store "gone"
        made = {"name": name, "scope": "SHARED"}
        assert (await client.post("/v1/stores/gone/namespaces", json=made)).status_code == 201
    assert (await client.post("/v1/stores/stays/namespaces", json=made)).status_code == 201
    r = await client.post("/v1/erasures", json={"namespace": "gone"})
    assert r.status_code == 200, r.text
    counts = r.json()["counts"]
    assert counts["long_term_memories"] == 22
    assert counts["working_memory_sessions"] == 2
    assert counts["managed_namespaces"] == 2
    assert (await client.get("/v1/stores/gone/namespaces")).json()["items"] == []
    assert len((await client.get("/v1/stores/stays/namespaces")).json()["items"]) == 1
    assert (await client.get(f"/v1/long-term-memory/{kept[0]}")).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"user_id": None, "namespace": None}, {"user_id": ""}, {"namespace": " x"}],
)
async def test_an_erase_naming_nothing_or_a_bad_id_is_a_400(
    served_app: tuple[httpx.AsyncClient, Resources], body: dict[str, Any]
) -> None:
    """An erase must name a user or a namespace, each a valid id; else a 400 saying why."""
    client, _ = served_app
    r = await client.post("/v1/erasures", json=body)
    assert_4xx_with_reason(r, 400)


async def test_a_session_written_again_after_its_erase_is_extracted_again(
    settings: Settings,
) -> None:
    """The erase drops the process's memo of a session's scheduled extraction with the task:
    a write to a session of the same name after the erase schedules its extraction again
    (the memo would otherwise hold it back for a debounce, with nothing scheduled)."""
    app = create_app(quiet(settings))
    async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
        res: Resources = app.state.resources
        body = {"user_id": USER, "messages": [{"role": "user", "content": "hi"}]}
        assert (await http.put("/v1/working-memory/s", json=body)).status_code == 200
        assert len(await pending_tasks(res)) == 1
        erased = await http.post("/v1/erasures", json={"user_id": USER})
        assert erased.json()["counts"]["task_records"] == 1
        assert await pending_tasks(res) == []
        assert (await http.put("/v1/working-memory/s", json=body)).status_code == 200
        assert len(await pending_tasks(res)) == 1


async def test_forgetting_sessions_removes_all_their_due_work_and_no_other(
    resources: Resources,
) -> None:
    """Promotion, extraction and summarisation marks (the last hold the model's window) of the
    erased sessions leave the due set and its batch starts; another session's stay. Ids with
    glob and query-syntax characters are matched exactly."""
    from remem.store.working import Session

    store = resources.working.store
    gone = [Session("s*[1]", "u?", "ns {a}"), Session("plain", "u", None)]
    kept = Session("s*[1]x", "u?", "ns {a}")
    for session in [*gone, kept]:
        for kind in ("promote", "extract"):
            await store.due.mark(kind, resources.keys.working_memory(*session), 600, 900)
        await store.summarize_due(session, 8000, 600, 900)
        await store.summarize_due(session, 128000, 600, 900)
    removed = await resources.tasks.forget_sessions(gone)
    assert removed == 2 * 4
    left = await resources.redis.zrange(resources.keys.tasks_due, 0, -1)
    since = await resources.redis.hkeys(resources.keys.tasks_due_since)
    kept_key = resources.keys.working_memory(*kept)
    assert sorted(left) == sorted(since)
    assert len(left) == 4 and all(m.endswith(kept_key) for m in left)
