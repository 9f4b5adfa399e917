"""A search on a cluster reads its hits by the keys the engine gave it, instead of finding each
id's key again on every primary (``located.remembering_found_keys``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord
from remem.models.search import SearchRequest
from remem.store.connection import open_redis
from remem.store.keys import Keys
from remem.store.longterm import LongTermStore, documents_cluster
from remem.store.schema import ensure_long_term_index
from tests.longterm.conftest import DIMS, WordEmbedder


@pytest.fixture
async def service(cluster_url: str) -> AsyncIterator[LongTermMemoryService]:
    redis = await open_redis(cluster_url, timeout=5, max_connections=8)
    keys = Keys(f"t{uuid.uuid4().hex[:10]}:", cluster=True)
    await ensure_long_term_index(redis, keys, f"{keys.prefix}memories", DIMS)
    made = LongTermMemoryService(
        LongTermStore(redis, keys, f"{keys.prefix}memories"), WordEmbedder()
    )
    await made.start()
    yield made
    await made.close()
    await made.store.aclose()
    for node in redis.get_primaries():  # type: ignore[attr-defined]
        for name in await redis.execute_command("FT._LIST", target_nodes=node):
            if name.startswith(keys.prefix):
                await redis.execute_command("FT.DROPINDEX", name, "DD")
    await redis.aclose()


async def test_a_search_reads_its_hits_by_the_keys_it_found(
    service: LongTermMemoryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    await service.create(
        [MemoryRecord(id=f"m{i}", text=f"green tea {i}", namespace=f"ns{i % 3}") for i in range(9)]
        + [MemoryRecord(id="b1", text="tea in b", namespace="b")]
    )
    asked: list[Any] = []
    real = documents_cluster.keys_by_id

    async def counted(*args: Any, **kwargs: Any) -> Any:
        asked.append(args[3])
        return await real(*args, **kwargs)

    monkeypatch.setattr(documents_cluster, "keys_by_id", counted)
    for mode in ("hybrid", "keyword", "semantic"):
        found = await service.search(
            SearchRequest(text="tea", namespace={"eq": "ns1"}, search_mode=mode)
        )
        assert {m.id for m in found.memories} == {"m1", "m4", "m7"}, mode
        assert all(m.text.startswith("green tea") for m in found.memories)
        found = await service.search(SearchRequest(text="tea", namespace={"eq": "b"}))
        assert [(m.id, m.text) for m in found.memories] == [("b1", "tea in b")]
        everywhere = await service.search(SearchRequest(text="tea", limit=20, search_mode=mode))
        assert everywhere.total == 10 and len(everywhere.memories) == 10
    assert asked == []  # not one id looked up again
    await service.get("m4")  # outside a search, an id is still found by id
    assert asked == [["m4"]]


async def test_a_superseded_memory_leaves_the_searches_of_its_namespace_and_of_all(
    service: LongTermMemoryService,
) -> None:
    """Whether the "still true" clause is needed is asked of the search's own namespace on a
    cluster (one primary), of every primary for a search over all: both leave A out once B
    supersedes it, and both give it back when asked for superseded memories."""
    await service.create(
        [
            MemoryRecord(id="paris", text="ann lives in paris", namespace="home"),
            MemoryRecord(id="tea", text="ann drinks tea", namespace="other"),
        ]
    )
    await service.create(
        [
            MemoryRecord(
                id="berlin", text="ann lives in berlin", namespace="home", supersedes=["paris"]
            )
        ]
    )
    for scope in ({"eq": "home"}, None):
        found = await service.search(
            SearchRequest(text="lives", namespace=scope, search_mode="keyword")
        )
        assert [m.id for m in found.memories] == ["berlin"], scope
        every = await service.search(
            SearchRequest(
                text="lives", namespace=scope, search_mode="keyword", include_superseded=True
            )
        )
        assert {m.id for m in every.memories} == {"berlin", "paris"}, scope
    other = await service.search(
        SearchRequest(text="drinks", namespace={"eq": "other"}, search_mode="keyword")
    )
    assert [m.id for m in other.memories] == ["tea"]


async def test_a_namespace_s_count_is_kept_until_it_is_written(
    service: LongTermMemoryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count a search of one namespace needs for its total is kept with that namespace's
    generation token: asked again only after a write there, and exact after it."""
    await service.create(
        [MemoryRecord(id=f"k{i}", text=f"green tea {i}", namespace=f"n{i % 2}") for i in range(6)]
    )
    index = service.store.index
    counted: list[Any] = []
    real = index.count

    async def spied(query: Any) -> int:
        counted.append(query)
        return await real(query)

    monkeypatch.setattr(index, "count", spied)
    scoped = {"eq": "n0"}

    async def total() -> int:
        return (await service.search(SearchRequest(text="tea", namespace=scoped))).total

    assert await total() == 3
    first = len(counted)
    assert first >= 1
    assert await total() == 3 and len(counted) == first  # kept: no count asked
    await service.create([MemoryRecord(id="k9", text="more tea", namespace="n1")])
    assert await total() == 3 and len(counted) == first  # another namespace's write
    await service.create([MemoryRecord(id="k8", text="black tea", namespace="n0")])
    assert await total() == 4 and len(counted) > first  # its own: counted again
