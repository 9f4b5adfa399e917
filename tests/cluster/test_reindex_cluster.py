"""``remem reindex`` on a cluster: every primary's index versions are dropped and built again,
and every memory, on every primary, is re-embedded and found again."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from remem.config import Settings
from remem.models.search import NewMemoryRecord, SearchRequest
from remem.runtime import Resources
from remem.upkeep.reindex import run_reindex
from tests.cluster.conftest import spread_namespaces


async def test_reindex_reaches_every_primary(
    cluster_settings: Settings, redis: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    namespaces = await spread_namespaces(redis)
    async with Resources(cluster_settings) as res:
        await res.long_term.create(
            [
                NewMemoryRecord(id=f"m{n}", text=f"{ns} keeps bees", namespace=ns)
                for n, ns in enumerate(namespaces)
            ]
        )
        key = res.keys.memory("m0", namespaces[0])
        await res.redis.hdel(key, "search_terms")  # as written before keyword search read it

    assert await run_reindex(cluster_settings) == len(namespaces)
    assert f"{len(namespaces)} memories re-embedded" in capsys.readouterr().out
    async with Resources(cluster_settings) as res:
        assert await res.redis.hexists(res.keys.memory("m0", namespaces[0]), "search_terms")
        for n, ns in enumerate(namespaces):
            found = await res.long_term.search(
                SearchRequest(text="bees", namespace={"eq": ns}, search_mode="keyword")
            )
            assert [m.id for m in found.memories] == [f"m{n}"]
        everywhere = await res.long_term.search(SearchRequest(text="bees", limit=50))
        assert sorted(m.id for m in everywhere.memories) == sorted(
            f"m{n}" for n in range(len(namespaces))
        )
