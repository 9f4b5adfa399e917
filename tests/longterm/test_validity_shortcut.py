"""A search leaves out its "still true" clause while no memory has an ``invalid_at`` (a count
kept with the store's generation). A supersede made by another process must still be seen by
the next search here: the search reads the generation in its own round trip and asks again."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from remem.config import Settings
from remem.memory.longterm import LongTermMemoryService
from remem.models.search import NewMemoryRecord, SearchRequest
from remem.store.keys import Keys
from remem.store.longterm import LongTermStore

from .conftest import WordEmbedder, index_name


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
async def test_a_supersede_from_another_process_is_seen_by_the_next_search(
    service: LongTermMemoryService, redis: Redis, settings: Settings, mode: str
) -> None:
    other_store = LongTermStore(redis, Keys(settings.key_prefix), index_name(settings))
    other = LongTermMemoryService(other_store, WordEmbedder())
    paris = NewMemoryRecord(id="paris", text="ann lives in paris")
    await service.create([paris], deduplicate=False)
    req = SearchRequest(text="ann lives", search_mode=mode)
    for _ in range(2):  # the second search trusts the kept "no invalid_at anywhere"
        assert [m.id for m in (await service.search(req)).memories] == ["paris"]
    assert service.store.cache.none_kept("invalid_at") is not None

    berlin = NewMemoryRecord(id="berlin", text="ann lives in berlin", supersedes=["paris"])
    await other.create([berlin], deduplicate=False)  # another process: this cache is unaware
    assert service.store.cache.none_kept("invalid_at") is not None

    assert [m.id for m in (await service.search(req)).memories] == ["berlin"]
    assert service.store.cache.none_kept("invalid_at") is None
    everything = req.model_copy(update={"include_superseded": True})
    assert {m.id for m in (await service.search(everything)).memories} == {"paris", "berlin"}
    await other_store.aclose()
