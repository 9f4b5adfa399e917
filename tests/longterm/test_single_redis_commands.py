"""On a single Redis a long-term write, search and read send the commands they sent before
cluster support, to the names they always had: one memory key ``mem:<id>``, the one generation
token ``lt:generation`` and the one access-count hash ``lt:access_count`` (no per-namespace
keys, no key in a namespace's hash tag). Script loads are left out of the counts."""

from __future__ import annotations

from redis.asyncio import Redis

from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord
from remem.models.search import SearchRequest
from remem.store.longterm import LongTermStore
from remem.store.owned import OwnedData
from tests.longterm.conftest import WordEmbedder


async def _calls(redis: Redis) -> dict[str, int]:
    stats = await redis.info("commandstats")
    return {
        name: int(value["calls"])
        for name, value in stats.items()
        if name != "cmdstat_info" and not name.startswith("cmdstat_script|")
    }


async def _sent(redis: Redis, before: dict[str, int]) -> dict[str, int]:
    after = await _calls(redis)
    delta = {name: n - before.get(name, 0) for name, n in after.items()}
    return {name: n for name, n in delta.items() if n}


async def test_a_write_search_and_read_keep_their_commands_and_names(
    store: LongTermStore, redis: Redis
) -> None:
    keys = store.keys
    assert not keys.cluster
    service = LongTermMemoryService(store, WordEmbedder(), access_flush_seconds=3600)
    await service.start()
    try:
        # Warm up: every script loaded, every plan chosen once.
        await service.create([MemoryRecord(id="warm", text="warm up", namespace="ns")])
        await service.search(SearchRequest(text="warm", namespace={"eq": "ns"}))
        await service.get("warm")

        before = await _calls(redis)
        record = MemoryRecord(id="tea", text="Alice drinks green tea", namespace="ns", user_id="u")
        await service.create([record])
        assert await _sent(redis, before) == {
            "cmdstat_FT.SEARCH": 1,  # the duplicate check
            "cmdstat_evalsha": 2,
            "cmdstat_exists": 2,  # inside the scripts
            "cmdstat_set": 1,  # the one generation token
            "cmdstat_hset": 1,
        }
        assert await redis.exists(f"{keys.prefix}mem:tea") == 1
        assert await redis.exists(keys.long_term_generation) == 1

        before = await _calls(redis)
        found = await service.search(SearchRequest(text="green tea", namespace={"eq": "ns"}))
        assert [m.id for m in found.memories] == ["tea", "warm"]
        assert await _sent(redis, before) == {
            "cmdstat_FT.SEARCH": 4,
            "cmdstat_evalsha": 2,
            "cmdstat_exists": 4,
            "cmdstat_hmget": 4,
            "cmdstat_hget": 2,
            "cmdstat_get": 4,
            "cmdstat_multi": 2,
            "cmdstat_exec": 2,
        }

        before = await _calls(redis)
        assert (await service.get("tea")).text == record.text
        assert await _sent(redis, before) == {
            "cmdstat_evalsha": 1,
            "cmdstat_exists": 1,
            "cmdstat_hmget": 1,
            "cmdstat_hget": 1,  # the access-count hash, inside the script
        }
    finally:
        await service.close()
    # The hits flushed at close land in the one access-count hash.
    assert int(await redis.hget(keys.access_counts, "tea") or 0) >= 1
    tagged = [key async for key in redis.scan_iter(match=f"{keys.prefix}*{{*")]
    assert tagged == []


async def test_an_erase_of_memories_keeps_its_commands(store: LongTermStore, redis: Redis) -> None:
    """Per page: one UNLINK of its memories, one HDEL of the one access hash, one new token."""
    service = LongTermMemoryService(store, WordEmbedder(), access_flush_seconds=3600)
    await service.start()
    try:
        records = [MemoryRecord(id=f"m{i}", text=f"fact {i}", namespace="gone") for i in range(5)]
        await service.create(records)
        await service.create([MemoryRecord(id="kept", text="fact", namespace="kept")])
    finally:
        await service.close()
    await redis.hincrby(store.keys.access_counts, "m1", 3)
    owned = OwnedData(redis, store.keys, "unused", store.index.name)
    try:
        assert await owned.memories("none", None) == (0, 0)  # opens its connection
        before = await _calls(redis)
        assert await owned.memories("gone", None) == (5, 1)
        assert await _sent(redis, before) == {
            "cmdstat_FT.SEARCH": 2,  # the page, then the empty one
            "cmdstat_unlink": 1,
            "cmdstat_hdel": 1,
            "cmdstat_set": 1,
        }
    finally:
        await owned.aclose()
    assert await redis.exists(store.keys.memory("kept")) == 1
