"""The summarisation patch (``WorkingMemoryStore.summarized``): one script sets the context and
removes the summarised messages only while they are still the first ones and the context is
still the one summarised; otherwise it writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from remem.config import Settings
from remem.store.connection import connect
from remem.store.keys import Keys
from remem.store.working import Session, WorkingMemoryStore

S = Session("patch", "u", "ns")


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[WorkingMemoryStore]:
    assert settings.redis_url
    redis: Redis = connect(settings.redis_url, timeout=10, max_connections=4)
    opened = WorkingMemoryStore(redis, Keys(settings.key_prefix), "unused")
    yield opened
    await opened.delete(S)
    await redis.aclose()


def doc(ids: list[str], context: str | None = None) -> dict:
    return {"context": context, "messages": [{"id": i, "content": i} for i in ids]}


async def ids_and_context(store: WorkingMemoryStore) -> tuple[list[str], str | None]:
    found = await store.get(S)
    assert found is not None
    return [m["id"] for m in found["messages"]], found["context"]


async def test_applies_to_the_first_messages_keeping_later_ones(
    store: WorkingMemoryStore,
) -> None:
    await store.put(S, doc(["a", "b", "c", 'é"x'], "old"))
    assert await store.summarized(S, "old", "new ✓", ["a", "b"])
    assert await ids_and_context(store) == (["c", 'é"x'], "new ✓")


@pytest.mark.parametrize(
    ("ids", "previous"),
    [
        (["b", "a"], None),  # not in that order
        (["b", "c"], None),  # not the first ones
        (["a", "b", "c"], None),  # every message: one must stay
        (["a"], "a context a PUT replaced"),
    ],
)
async def test_writes_nothing_when_the_session_changed(
    store: WorkingMemoryStore, ids: list[str], previous: str | None
) -> None:
    await store.put(S, doc(["a", "b", "c"]))
    assert not await store.summarized(S, previous, "summary", ids)
    assert await ids_and_context(store) == (["a", "b", "c"], None)


async def test_a_missing_session_is_not_created(store: WorkingMemoryStore) -> None:
    assert not await store.summarized(S, None, "summary", ["a"])
    assert await store.get(S) is None
