"""The long-term memory service over a cluster's store answers as over a single Redis: creates
(versions that supersede included), reads, a namespace's search and one across namespaces,
edits, hits, history and deletes; an id two namespaces hold on a cluster is read, edited and
deleted in the namespace the caller may see."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from remem.errors import Conflict, MergedAway, NotFound
from remem.memory.filters import Within, hit_owners
from remem.memory.longterm import LongTermMemoryService
from remem.memory.records import to_doc
from remem.models.memory import MemoryRecord
from remem.models.search import EditMemoryRecordRequest, SearchRequest
from remem.store.connection import connect, open_redis
from remem.store.keys import Keys
from remem.store.longterm import LongTermStore
from remem.store.schema import ensure_long_term_index
from tests.longterm.conftest import DIMS, WordEmbedder

NAMESPACES = [f"team {i}/{{x}}" for i in range(6)]
Pair = tuple[LongTermMemoryService, LongTermMemoryService]


@pytest.fixture
async def services(cluster_url: str, redis_url: str) -> AsyncIterator[Pair]:
    """The service over an empty store in a single Redis and on the cluster."""
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    clients: list[Redis] = [
        connect(redis_url, timeout=5, max_connections=8),
        await open_redis(cluster_url, timeout=5, max_connections=8),
    ]
    made = []
    for redis, keys in zip(clients, (Keys(prefix), Keys(prefix, cluster=True)), strict=True):
        await ensure_long_term_index(redis, keys, f"{prefix}memories", DIMS)
        service = LongTermMemoryService(
            LongTermStore(redis, keys, f"{prefix}memories"),
            WordEmbedder(),
            access_flush_seconds=0.05,
            access_resolution_seconds=0.0,
        )
        await service.start()
        made.append(service)
    yield made[0], made[1]
    for service in made:
        await service.close()
        await service.store.aclose()
    primaries = clients[1].get_primaries()  # type: ignore[attr-defined]
    for redis, nodes in ((clients[0], [None]), (clients[1], primaries)):
        for node in nodes:
            where = {"target_nodes": node} if node is not None else {}
            for name in await redis.execute_command("FT._LIST", **where):
                if name.startswith(prefix):
                    await redis.execute_command("FT.DROPINDEX", name, "DD")
        await redis.aclose()


async def _both(services: Pair, method: str, *args: Any, **kwargs: Any) -> Any:
    one = await getattr(services[0], method)(*args, **kwargs)
    many = await getattr(services[1], method)(*args, **kwargs)
    assert many == one, method
    return one


def _records() -> list[MemoryRecord]:
    drinks = ["green tea", "black coffee", "mint tea", "hot chocolate", "oolong tea"]
    return [
        MemoryRecord(
            id=f"m{i}",
            text=f"person {i} drinks {drinks[i % 5]} every morning",
            namespace=NAMESPACES[i % 6] if i < 28 else None,
            user_id="ann" if i % 2 else "bob",
        )
        for i in range(30)
    ]


async def test_the_service_answers_as_over_a_single_redis(services: Pair) -> None:
    await _both(services, "create", _records())
    record = await _both(services, "get", "m7")
    assert record.namespace == NAMESPACES[1]
    for namespace in (NAMESPACES[2], None):
        ask = SearchRequest(
            text="tea", limit=50, namespace={"eq": namespace} if namespace else None
        )
        found_one, found_many = [await s.search(ask) for s in services]
        assert found_many.total == found_one.total > 0
        # The same memories; their order may differ, BM25 scoring by each primary's own
        # statistics (docs/architecture.md, "What a primary's index can give").
        assert sorted(m.id for m in found_many.memories) == sorted(m.id for m in found_one.memories)
    await asyncio.sleep(0.3)  # the searches' hits flushed
    hits = [(await s.get("m2")).access_count for s in services]
    assert hits[0] == hits[1] >= 1

    edit = EditMemoryRecordRequest(text="person 7 drinks water")
    one, many = [await s.update("m7", edit) for s in services]
    assert one.text == many.text == "person 7 drinks water"
    version = MemoryRecord(
        id="m7-v2", text="person 7 drinks juice", namespace=NAMESPACES[1], user_id="ann",
        supersedes=["m7"],
    )  # fmt: skip
    await _both(services, "create", [version])
    history = [[r.id for r in await s.history("m7-v2")] for s in services]
    assert history[0] == history[1] == ["m7", "m7-v2"]
    assert await _both(services, "delete", ["m1", "m2", "m29", "absent"]) == 3
    for service in services:
        with pytest.raises(NotFound):
            await service.get("m1")


async def test_an_id_two_namespaces_hold_is_the_callers(services: Pair) -> None:
    service = services[1]
    a, b = NAMESPACES[0], NAMESPACES[3]
    await service.create([MemoryRecord(id="shared", text="tea at four", namespace=a)])
    with pytest.raises(Conflict):  # held in another namespace: refused, as on a single Redis
        await service.create([MemoryRecord(id="shared", text="coffee", namespace=b)])
    # A second namespace's copy, as a concurrent create elsewhere may leave on a cluster.
    (vector,) = await service.embed(["coffee at nine"])
    doc = to_doc(MemoryRecord(id="shared", text="coffee at nine", namespace=b), vector)
    assert not (await service.store.documents.upsert_many([doc]))[0].refused

    def only(namespace: str) -> Any:
        return lambda ns, _user: ns == namespace

    assert (await service.get("shared", only(b))).text == "coffee at nine"
    # A search finds the id in its namespace, and reads that namespace's copy.
    for namespace, text in ((a, "tea at four"), (b, "coffee at nine")):
        found = await service.search(SearchRequest(text=text, namespace={"eq": namespace}))
        assert [(m.id, m.text) for m in found.memories] == [("shared", text)]
    assert (await service.get("shared", only(a))).text == "tea at four"
    # Each search's hit counts on the copy it found (the flush names its key by namespace).
    for _ in range(2):
        await service.search(SearchRequest(text="coffee at nine", namespace={"eq": b}))
    await service.access.flush()
    assert (await service.get("shared", only(a))).access_count == 1
    assert (await service.get("shared", only(b))).access_count == 3
    edited = await service.update("shared", EditMemoryRecordRequest(text="milk"), only(b))
    assert edited.namespace == b
    assert (await service.get("shared", only(a))).text == "tea at four"
    assert await service.delete(["shared"], only(a)) == 1
    # Held once again: read as a single Redis reads it, its caller checking its owner.
    assert (await service.get("shared")).text == "milk"
    assert (await service.get("shared", only(a))).namespace == b


async def test_compaction_merges_in_its_namespace_s_copy_of_a_shared_id(services: Pair) -> None:
    """An id two namespaces hold: compacting one namespace reads, changes and deletes that
    namespace's memories only (the other's copy of the id, first in key order, is untouched)."""
    service = services[1]
    a, b = NAMESPACES[0], NAMESPACES[3]
    await service.create([MemoryRecord(id="shared", text="tea at four", namespace=a)])
    (vector,) = await service.embed(["coffee at nine"])  # b's copy, as in the test above
    doc = to_doc(MemoryRecord(id="shared", text="coffee at nine", namespace=b), vector)
    assert not (await service.store.documents.upsert_many([doc]))[0].refused
    # A later copy of b's text, as an import without dedup leaves it.
    copy = MemoryRecord(id="later", text="Coffee at nine", namespace=b, topics=["drinks"])
    await service.create([copy], deduplicate=False)

    def only(namespace: str) -> Any:
        return lambda ns, _user: ns == namespace

    before = await service.store.documents.get_many(["shared"], only(a))
    assert await service.compact(b) == 1
    assert await service.store.documents.get_many(["shared"], only(a)) == before
    kept = await service.get("shared", only(b))
    assert kept.text == "coffee at nine" and kept.topics == ["drinks"]
    with pytest.raises(MergedAway, match="into memory 'shared'"):
        await service.get("later", only(b))


def test_the_owners_a_search_s_hits_may_have() -> None:
    assert hit_owners(SearchRequest(text="x"), None) is None
    scope = Within(("shop/*", "home"), "ann")
    accepts = hit_owners(SearchRequest(text="x"), scope)
    assert accepts is not None
    assert accepts("shop/a", "ann") and accepts("home", "ann")
    assert not accepts("home", "bob") and not accepts("homes", "ann") and not accepts(None, "ann")
    asked = hit_owners(SearchRequest(text="x", namespace={"eq": "b"}, user_id={"eq": "u"}), None)
    assert asked is not None and asked("b", "u")
    assert not asked("a", "u") and not asked("b", None)
