"""Vectors of another size than the model's are refused at start-up; `remem reindex` fixes it."""

from __future__ import annotations

import pytest

from remem.config import Settings
from remem.errors import IncompatibleBackend
from remem.models.search import NewMemoryRecord, SearchRequest
from remem.runtime import Resources
from remem.store.longterm.layout import vector_bytes
from remem.store.schema import ensure_index, long_term_memory_index
from remem.upkeep.reindex import run_reindex


async def test_a_model_change_is_refused_until_reindexed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Resources(settings) as res:
        await res.long_term.create(
            [NewMemoryRecord(id="tea", text="Alice drinks green tea every morning")]
        )
        # Pretend the memories were embedded by an 8-dimensional model.
        key = res.keys.memory("tea")
        await res.redis.hset(key, "embedding", vector_bytes([0.1] * 8))
        for name in await res.redis.execute_command("FT._LIST"):
            if name.startswith(res.keys.index_name(settings.long_term_memory_index, "")):
                await res.redis.execute_command("FT.DROPINDEX", name)
        old = long_term_memory_index(res.keys, settings.long_term_memory_index, 8)
        await ensure_index(res.redis, res.keys, old)

    with pytest.raises(IncompatibleBackend, match="remem reindex"):
        async with Resources(settings):
            pass

    await reindex_one(settings, capsys)
    async with Resources(settings) as res:
        found = await res.long_term.search(SearchRequest(text="what does alice drink"))
        assert [m.id for m in found.memories] == ["tea"]


async def test_memories_without_search_terms_are_refused_until_reindexed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Resources(settings) as res:
        await res.long_term.create(
            [
                NewMemoryRecord(
                    id="walk",
                    text="Bob walked the dog",
                    search_text="Bob walked the dog by the lake, the lake was cold",
                )
            ]
        )
        # A memory written before keyword search read search_terms.
        await res.redis.hdel(res.keys.memory("walk"), "search_terms")

    with pytest.raises(IncompatibleBackend, match=r"search_terms.*remem reindex"):
        async with Resources(settings):
            pass

    await reindex_one(settings, capsys)
    async with Resources(settings) as res:
        terms = await res.redis.hget(res.keys.memory("walk"), "search_terms")
        # the keyword text's words, then the memory's own words once more
        assert terms == "bob walk the dog by the lake the lake was cold bob walk the dog"
        found = await res.long_term.search(SearchRequest(text="cold lake", search_mode="keyword"))
        assert [m.id for m in found.memories] == ["walk"]


async def reindex_one(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """Run `remem reindex` over a store of one memory; it says its result once."""
    capsys.readouterr()
    assert await run_reindex(settings) == 1
    printed = capsys.readouterr()
    assert (printed.out + printed.err).count("1 memories") == 1  # the result, said once
