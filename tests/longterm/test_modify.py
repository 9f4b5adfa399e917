"""The WATCH-based read-modify-write of one memory: it tries again when another write comes
between its read and its write, a bounded number of times."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis as sync_redis

from remem.config import Settings
from remem.errors import Conflict
from remem.store.longterm import LongTermStore, MemoryDocuments


@pytest.fixture
def other(settings: Settings) -> Iterator[sync_redis.Redis]:
    """Another client: its writes land between a modify's read and write."""
    assert settings.redis_url
    client = sync_redis.Redis.from_url(settings.redis_url)
    yield client
    client.close()


def interfere(other: sync_redis.Redis, key: str) -> None:
    """Write ``key`` without changing its content (EXPIRE then PERSIST): enough for WATCH."""
    other.expire(key, 3600)
    other.persist(key)


async def test_modify_tries_again_after_a_concurrent_write(
    store: LongTermStore, other: sync_redis.Redis
) -> None:
    await store.documents.upsert_many([{"id": "m", "text": "tea", "pinned": False}])
    reads: list[str] = []

    def change(doc: dict[str, Any]) -> dict[str, Any]:
        reads.append(doc["text"])
        if len(reads) == 1:
            interfere(other, store.keys.memory("m"))
        return {**doc, "text": "green tea"}

    assert (await store.documents.modify("m", change) or {})["text"] == "green tea"
    assert reads == ["tea", "tea"]
    (doc,) = await store.documents.get_fields(["m"], ("text",))
    assert doc == {"text": "green tea"}


async def test_modify_gives_up_after_repeated_conflicts(
    store: LongTermStore, other: sync_redis.Redis
) -> None:
    """A memory written between every read and write of a modify makes it fail with a remem
    error after ``modify_attempts`` tries, instead of spinning for ever."""
    documents = MemoryDocuments(store.redis, store.keys, modify_attempts=3)
    await documents.upsert_many([{"id": "m", "text": "tea", "pinned": False}])
    reads = 0

    def change(doc: dict[str, Any]) -> dict[str, Any]:
        nonlocal reads
        reads += 1
        interfere(other, store.keys.memory("m"))
        return {**doc, "text": "mine"}

    with pytest.raises(Conflict, match="written concurrently 3 times"):
        await asyncio.wait_for(documents.modify("m", change), timeout=10)
    assert reads == 3
    (doc,) = await documents.get_fields(["m"], ("text",))
    assert doc == {"text": "tea"}  # nothing written
