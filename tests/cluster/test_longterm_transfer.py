"""``remem memories export`` / ``import`` of long-term memories on a cluster: the lines of every
memory, a namespace's and a user's are the ones a single Redis holding the same memories
writes; a namespace's export of an id two namespaces hold carries that namespace's copy; an
import into another cluster store gives back every memory."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from remem.memory.longterm import LongTermMemoryService
from remem.memory.records import to_doc
from remem.models.memory import MemoryRecord
from remem.store.connection import connect, open_redis
from remem.store.keys import Keys
from remem.store.longterm import LongTermStore
from remem.store.schema import ensure_long_term_index
from remem.tenants.transfer import export_memories, import_memories
from tests.longterm.conftest import DIMS, WordEmbedder

NAMESPACES = [f"shop {i}/{{x}}" for i in range(5)]


async def _service(redis: Redis, keys: Keys) -> LongTermMemoryService:
    name = f"{keys.prefix}memories"
    await ensure_long_term_index(redis, keys, name, DIMS)
    service = LongTermMemoryService(LongTermStore(redis, keys, name), WordEmbedder())
    await service.start()
    return service


@pytest.fixture
async def services(
    cluster_url: str, redis_url: str
) -> AsyncIterator[tuple[LongTermMemoryService, LongTermMemoryService, LongTermMemoryService]]:
    """Over a single Redis, the cluster, and a second (empty) store on the cluster."""
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    single = connect(redis_url, timeout=5, max_connections=8)
    cluster = await open_redis(cluster_url, timeout=5, max_connections=8)
    made = [
        await _service(single, Keys(prefix)),
        await _service(cluster, Keys(prefix, cluster=True)),
        await _service(cluster, Keys(f"{prefix}b:", cluster=True)),
    ]
    yield made[0], made[1], made[2]
    for service in made:
        await service.close()
        await service.store.aclose()
    for redis, nodes in ((single, [None]), (cluster, cluster.get_primaries())):  # type: ignore[attr-defined]
        for node in nodes:
            where = {"target_nodes": node} if node is not None else {}
            for name in await redis.execute_command("FT._LIST", **where):
                if name.startswith(prefix):
                    await redis.execute_command("FT.DROPINDEX", name, "DD")
        await redis.aclose()


async def _lines(service: LongTermMemoryService, **scope: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    await export_memories(service, out, progress=lambda _: None, **scope)
    lines = [json.loads(line) for line in out.getvalue().splitlines()[1:]]
    return sorted(lines, key=lambda line: (line["id"], line.get("namespace") or ""))


async def test_exports_and_an_import_answer_as_a_single_redis(services: Any) -> None:
    one, many, other = services
    records = [
        MemoryRecord(
            id=f"m{i}",
            text=f"the shop {i} opens at {i % 12} every day",
            namespace=NAMESPACES[i % 5] if i < 22 else None,
            user_id="ada" if i % 3 else None,
        )
        for i in range(24)
    ]
    for service in (one, many):
        await service.create(records)
        await service.store.documents.touch_many({"m4": (3, 5.0)})
    everything = await _lines(many)
    assert len(everything) == 24 and everything == await _lines(one)
    for scope in ({"namespace": NAMESPACES[2]}, {"user_id": "ada"}):
        assert await _lines(many, **scope) == await _lines(one, **scope)
    assert [line["access_count"] for line in everything if line["id"] == "m4"] == [3]

    out = io.StringIO()
    await export_memories(many, out, progress=lambda _: None)
    done = await import_memories(other, io.StringIO(out.getvalue()), progress=lambda _: None)
    assert (done.memories, done.refused) == (24, 0)
    assert [(await other.get(r.id)).text for r in records] == [r.text for r in records]


async def test_a_namespace_export_carries_its_copy_of_a_shared_id(services: Any) -> None:
    many = services[1]
    for namespace in NAMESPACES[:2]:
        (vector,) = await many.embed([f"held by {namespace}"])
        record = MemoryRecord(id="shared", text=f"held by {namespace}", namespace=namespace)
        await many.store.documents.upsert_many([to_doc(record, vector)])
    for namespace in NAMESPACES[:2]:
        lines = await _lines(many, namespace=namespace)
        assert [(line["id"], line["text"]) for line in lines] == [
            ("shared", f"held by {namespace}")
        ]
    # An export of every memory reads an id by id alone: one of its copies (the first key's).
    assert [line["id"] for line in await _lines(many)] == ["shared"]
