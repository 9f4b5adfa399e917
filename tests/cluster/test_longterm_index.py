"""The long-term index's searches on a cluster answer as a single Redis holding the same
memories does: a namespace's on the primary holding it (counts, KNN, BM25, newest and oldest
pages, the holder of a merged id), the rest merged from every primary (counts, KNN, pages and
totals); BM25 finds the same memories and total, scored by each primary's own statistics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest
from redis.asyncio import Redis

from remem.store.connection import connect, open_redis
from remem.store.keys import Keys
from remem.store.longterm.cache import GenerationCache
from remem.store.longterm.index import MemoryIndex
from remem.store.longterm.layout import vector_bytes
from remem.store.query import MATCH_ALL, Filter, TagIn, every
from remem.store.schema import ensure_long_term_index

DIMS = 8
NAMESPACES = [f"ns {i}/{{x}}" for i in range(12)]


def _memories() -> list[dict[str, str | bytes]]:
    rng = np.random.default_rng(7)
    out: list[dict[str, str | bytes]] = []
    for i in range(64):
        vector = rng.normal(size=DIMS).astype(np.float32)
        doc: dict[str, str | bytes] = {
            "id": f"m{i}",
            "user_id": "ann" if i % 2 else "bob",
            "created_at": repr(1000.0 + i * 7 % 64),
            "last_accessed": repr(2000.0 + i),
            "memory_type": "semantic" if i % 3 else "episodic",
            "pinned": "1" if i % 5 == 0 else "0",
            "memory_hash": f"h{i}",
            "search_terms": " ".join(["tea"] * (1 + i % 4) + ["word", f"w{i % 7}"]),
            "embedding": vector_bytes(vector / np.linalg.norm(vector)),
        }
        if i < 60:
            doc["namespace"] = NAMESPACES[i % len(NAMESPACES)]
        if i == 17:
            doc["merged_ids"] = "old1"
        out.append(doc)
    return out


async def _drop(redis: Redis, prefix: str, nodes: list[object | None]) -> None:
    for node in nodes:
        where = {"target_nodes": node} if node is not None else {}
        for name in await redis.execute_command("FT._LIST", **where):
            if name.startswith(prefix):
                await redis.execute_command("FT.DROPINDEX", name, "DD")


@pytest.fixture
async def indexes(
    cluster_url: str, redis_url: str
) -> AsyncIterator[tuple[MemoryIndex, MemoryIndex]]:
    """The same memories in a single Redis and on the cluster: (single's index, cluster's)."""
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    single, cluster = (
        connect(redis_url, timeout=5, max_connections=4),
        await open_redis(cluster_url, timeout=5, max_connections=8),
    )
    pair = []
    for redis, keys in ((single, Keys(prefix)), (cluster, Keys(prefix, cluster=True))):
        name = f"{prefix}memories"
        await ensure_long_term_index(redis, keys, name, DIMS)
        for doc in _memories():
            namespace = doc.get("namespace")
            key = keys.memory(str(doc["id"]), str(namespace) if namespace else None)
            await redis.hset(key, mapping=doc)  # type: ignore[arg-type]
        pair.append(MemoryIndex(redis, keys, name))
    yield pair[0], pair[1]
    for index in pair:
        await index.aclose()
    await _drop(single, prefix, [None])
    await _drop(cluster, prefix, list(cluster.get_primaries()))  # type: ignore[attr-defined]
    await single.aclose()
    await cluster.aclose()


QUERIES: list[Filter] = [
    TagIn("namespace", (NAMESPACES[0],)),
    every(TagIn("namespace", (NAMESPACES[5],)), TagIn("user_id", ("ann",))),
    TagIn("namespace", (NAMESPACES[11],)),
    MATCH_ALL,
    TagIn("user_id", ("bob",)),
]


@pytest.mark.parametrize("query", QUERIES, ids=["ns0", "ns5 ann", "ns11", "all", "bob"])
async def test_a_search_answers_as_a_single_redis(
    indexes: tuple[MemoryIndex, MemoryIndex], query: Filter
) -> None:
    one, many = indexes
    assert many.cluster is not None and one.cluster is None
    # A namespace's search asks the one primary holding it; any other, all three.
    assert len(many.cluster.names(query)) == (3 if query in QUERIES[3:] else 1)
    assert await many.count(query) == await one.count(query) > 0
    vector = np.ones(DIMS, dtype=np.float32) / np.sqrt(DIMS)
    for k in (3, 70):
        near, far = await one.nearest(query, vector, k), await many.nearest(query, vector, k)
        assert [s.id for s in far] == [s.id for s in near]
        assert [round(s.value, 4) for s in far] == [round(s.value, 4) for s in near]
    assert await many.count_within(query, vector, 0.9) == await one.count_within(query, vector, 0.9)
    total, hits = await one.keyword(query, ["tea"], 100)
    far_total, far_hits = await many.keyword(query, ["tea"], 100)
    assert far_total == total and sorted(s.id for s in far_hits) == sorted(s.id for s in hits)
    # BM25 scores are each primary's (its own document frequencies): other values than one
    # Redis's, even for a namespace on one primary; the merge keeps them best first.
    assert [s.value for s in far_hits] == sorted((s.value for s in far_hits), reverse=True)
    assert await many.recent(query, 7) == await one.recent(query, 7)
    for offset in (0, 3, 50):
        assert await many.oldest_counted(query, 4, offset) == await one.oldest_counted(
            query, 4, offset
        )


async def test_the_holder_of_a_merged_id(indexes: tuple[MemoryIndex, MemoryIndex]) -> None:
    one, many = indexes
    assert (
        await many.holder_of("old1")
        == await one.holder_of("old1")
        == (
            "m17",
            NAMESPACES[17 % 12],
            "ann",
        )
    )
    assert await many.holder_of("never") is None


@pytest.mark.parametrize("query", [QUERIES[1], QUERIES[3]], ids=["ns5 ann", "all"])
async def test_a_search_s_candidates_without_a_kept_count(
    indexes: tuple[MemoryIndex, MemoryIndex], query: Filter
) -> None:
    """On a cluster nothing is kept (no generation token read): the candidates are counted and
    searched anew each time, and match a single Redis's."""
    one, many = indexes
    here, there = (GenerationCache(i.redis, i.keys, i) for i in (one, many))
    assert here.keeps and not there.keeps
    vector = np.ones(DIMS, dtype=np.float32) / np.sqrt(DIMS)
    for _ in range(2):  # the second time a single Redis answers from its kept count
        near = await here.candidates(query, vector, 5, words=["tea"], max_distance=1.3)
        far = await there.candidates(query, vector, 5, words=["tea"], max_distance=1.3)
        assert far.counts.matches == near.counts.matches
        assert [s.id for s in far.nearest] == [s.id for s in near.nearest]
        assert far.keyword_total == near.keyword_total
        assert (far.within, far.keyword_within) == (near.within, near.keyword_within) != (0, 0)
        assert far.generation is None
    assert await there.tag_values("namespace") == tuple(sorted(NAMESPACES))
    assert await there.tag_values("user_id") == ("ann", "bob")
    assert await there.kept_tag_values("user_id") is None
    assert await there.any_value("created_at") and not await there.any_value("event_date")
    total, hits, generation = await there.keyword(query, ["w3"], 50)
    expected_total, expected = await one.keyword(query, ["w3"], 50)
    assert (total, generation) == (expected_total, None) and total > 0
    assert sorted(s.id for s in hits) == sorted(s.id for s in expected)
