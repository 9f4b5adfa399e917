"""Reads survive a Redis that lost its scripts (a restarted embedded Redis starts empty)."""

from __future__ import annotations

from redis.asyncio import Redis

from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord
from remem.models.search import SearchRequest


async def test_reads_load_their_script_again_after_a_flush(
    service: LongTermMemoryService, redis: Redis
) -> None:
    await service.create([MemoryRecord(id="tea", text="Alice drinks green tea")])
    await redis.script_flush()
    assert (await service.get("tea")).text == "Alice drinks green tea"
    await redis.script_flush()
    found = await service.search(SearchRequest(text="green tea"))
    assert [m.id for m in found.memories] == ["tea"]
