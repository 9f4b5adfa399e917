"""Search totals stay exact while counts are cached: a second server process (here a second
store and service on the same Redis and index) writes, and the first one's next search sees it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from remem.config import Settings
from remem.memory import search
from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord
from remem.models.search import EditMemoryRecordRequest, SearchRequest
from remem.store.keys import Keys
from remem.store.longterm import LongTermStore
from tests.longterm.conftest import WordEmbedder, index_name

MODES = ("semantic", "hybrid")


@pytest.fixture
async def other(
    redis: Redis, settings: Settings, store: LongTermStore
) -> AsyncIterator[LongTermMemoryService]:
    """Another process's service over the same index (its own count cache)."""
    twin = LongTermStore(redis, Keys(settings.key_prefix), index_name(settings))
    svc = LongTermMemoryService(
        twin, WordEmbedder(), access_flush_seconds=0.1, access_resolution_seconds=0.0
    )
    await svc.start()
    yield svc
    await svc.close()


async def totals(service: LongTermMemoryService, **filters: object) -> list[int]:
    out = []
    for mode in MODES:
        request = SearchRequest.model_validate(
            {"text": "tea garden", "search_mode": mode, **filters}
        )
        out.append((await service.search(request)).total)
    return out


async def test_totals_follow_writes_made_by_another_process(
    service: LongTermMemoryService, other: LongTermMemoryService
) -> None:
    scope = {"namespace": {"eq": "n"}}
    await service.create(
        [MemoryRecord(id=f"m{i}", text=f"tea {i}", namespace="n") for i in range(5)]
    )
    assert await totals(service, **scope) == [5, 5]
    assert await totals(service, **scope) == [5, 5]  # now from the cache

    await other.create([MemoryRecord(id="x1", text="garden", namespace="n")])
    assert await totals(service, **scope) == [6, 6]

    await other.delete(["m0", "m1"])
    assert await totals(service, **scope) == [4, 4]

    await other.update("m2", EditMemoryRecordRequest.model_validate({"namespace": "elsewhere"}))
    assert await totals(service, **scope) == [3, 3]
    assert await totals(service, namespace={"eq": "elsewhere"}) == [1, 1]


async def test_totals_follow_access_tracking_of_another_process(
    service: LongTermMemoryService, other: LongTermMemoryService
) -> None:
    """A filter on last_accessed counts anew once another process records hits."""
    await service.create([MemoryRecord(id=f"m{i}", text=f"tea {i}") for i in range(3)])
    since = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    scope = {"last_accessed": {"gte": since}}
    assert await totals(service, **scope) == [0, 0]
    # Hits recorded a minute from now (the access clock is the caller's), flushed by `other`.
    other.access.record([("m0", None), ("m1", None)], datetime.now(UTC).timestamp() + 60)
    await other.access.flush()
    assert await totals(service, **scope) == [2, 2]


async def test_a_lost_generation_token_is_never_matched_again(
    service: LongTermMemoryService, redis: Redis, settings: Settings
) -> None:
    """The generation token is replaced, not incremented: a store emptied and refilled to the
    same number of writes never matches an old token."""
    await service.create([MemoryRecord(id="a", text="tea")])
    assert await totals(service) == [1, 1]
    await redis.delete(Keys(settings.key_prefix).long_term_generation)
    await redis.delete(Keys(settings.key_prefix).memory("a"))  # behind remem's back
    await service.create(
        [MemoryRecord(id="b", text="tea cups"), MemoryRecord(id="c", text="tea leaves")]
    )
    assert await totals(service) == [2, 2]


async def test_writes_behind_remems_back_are_counted_within_the_max_age(
    service: LongTermMemoryService,
    redis: Redis,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service.store.cache.max_age = 0.5  # a constructor argument of the store, 60 s by default
    await service.create([MemoryRecord(id=f"m{i}", text=f"tea {i}") for i in range(3)])
    assert await totals(service) == [3, 3]
    await redis.delete(Keys(settings.key_prefix).memory("m0"))  # no new generation token
    assert await totals(service) == [3, 3]  # the kept count, as documented
    await asyncio.sleep(0.6)
    assert await totals(service) == [2, 2]


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
async def test_an_entity_another_process_adds_is_boosted_at_once(
    service: LongTermMemoryService, other: LongTermMemoryService, mode: str
) -> None:
    """Ranking skips the entity boost when no stored entity is named; the entity values it
    keeps for that follow writes from any process."""
    await service.create(
        [MemoryRecord(id=f"p{i}", text=f"went painting by the lake {i}") for i in range(30)],
        deduplicate=False,
    )
    question = SearchRequest(
        text="when did Zed go painting by the lake", search_mode=mode, limit=3, entity_boost=0.5
    )
    assert "zed" not in {m.id for m in (await service.search(question)).memories}
    await other.create(
        [MemoryRecord(id="zed", text="went painting by the lake 7", entities=["Zed"])],
        deduplicate=False,
    )
    boosted = (await service.search(question)).memories[0]
    plain = await service.search(question.model_copy(update={"entity_boost": 0.0, "limit": 50}))
    assert boosted.id == "zed"
    assert boosted.score > next(m.score for m in plain.memories if m.id == "zed") + 0.3


async def test_startswith_sees_tag_values_another_process_adds(
    service: LongTermMemoryService, other: LongTermMemoryService
) -> None:
    await service.create([MemoryRecord(id="a", text="tea", topics=["tea:green"])])
    request = SearchRequest.model_validate(
        {"text": "tea", "topics": {"startswith": "tea:"}, "limit": 10}
    )
    assert [m.id for m in (await service.search(request)).memories] == ["a"]
    await other.create([MemoryRecord(id="b", text="black tea", topics=["tea:black"])])
    assert sorted(m.id for m in (await service.search(request)).memories) == ["a", "b"]


async def test_many_entity_values_are_not_reread_after_each_write(
    service: LongTermMemoryService,
    other: LongTermMemoryService,
    store: LongTermStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With many distinct entities a search after a write assumes its query names one (the
    boost is then looked for in each candidate) instead of reading them all again."""
    monkeypatch.setattr(search, "ENTITY_VALUES_REREAD_MAX", 1)
    await service.create(
        [
            MemoryRecord(id=f"p{i}", text=f"went painting by the lake {i}", entities=[f"E{i}"])
            for i in range(30)
        ],
        deduplicate=False,
    )
    question = SearchRequest(text="when did Zed go painting", search_mode="semantic", limit=3)
    await service.search(question)  # reads the 30 values
    reads: list[str] = []
    real = store.cache.read_tag_values

    async def counted(field: str) -> tuple[str, ...]:
        reads.append(field)
        return await real(field)

    monkeypatch.setattr(store.cache, "read_tag_values", counted)
    await other.create(
        [MemoryRecord(id="zed", text="went painting by the lake 7", entities=["Zed"])],
        deduplicate=False,
    )
    assert (await service.search(question)).memories[0].id == "zed"
    assert reads == []
