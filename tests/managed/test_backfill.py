"""Memories written before ``attribute_tags`` existed (their attributes in their metadata, no
tags) are found by ``filter.attributes`` once a start-up has derived their tags: once, keeping
every field and any write that comes between."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis_agent_memory import AgentMemory

from remem.api.app import create_app
from remem.config import Settings
from remem.runtime import Resources
from remem.store.keys import Keys
from remem.store.longterm.attributes import ATTRIBUTE_TAGS, tag
from remem.store.longterm.backfill import backfill_attribute_tags
from remem.store.query import TagIn
from tests.serving import served

STORE = "old-store"
OLD = [
    {"id": "calm", "text": "a calm walk", "owner_id": "ada",
     "attributes": {"mood": "calm", "stars": 4, "tags": ["a", "b"]}},
    {"id": "tense", "text": "a tense meeting", "owner_id": "ada",
     "attributes": {"mood": "tense"}},
    {"id": "plain", "text": "no attributes", "owner_id": "ada"},
]  # fmt: skip


async def found(sdk: AgentMemory, attributes: dict[str, object]) -> list[str]:
    request = {"filter": {"attributes": attributes}, "limit": 100}
    page = await sdk.search_long_term_memory_async(request=request)  # type: ignore[arg-type]
    return sorted(m.id for m in page.items)


async def written_the_old_way(settings: Settings) -> None:
    """The memories as a remem before attribute_tags left them: no tags, no backfill mark."""
    keys = Keys(settings.key_prefix)
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        for memory in OLD:
            await client.hdel(keys.memory(memory["id"]), ATTRIBUTE_TAGS)
        await client.delete(keys.attribute_tags_backfilled)
    finally:
        await client.aclose()


async def test_a_start_up_derives_the_tags_of_memories_written_before_them(
    settings: Settings,
) -> None:
    async with (
        served(create_app(settings)) as url,
        AgentMemory(server_url=url, store_id=STORE) as sdk,
    ):
        made = await sdk.bulk_create_long_term_memories_async(memories=OLD)  # type: ignore[arg-type]
        assert sorted(made.created) == ["calm", "plain", "tense"]
        assert await found(sdk, {"mood": {"string": "calm"}}) == ["calm"]
        before = [await sdk.get_long_term_memory_async(memory_id=m["id"]) for m in OLD]
    await written_the_old_way(settings)

    async with (
        served(create_app(settings)) as url,
        AgentMemory(server_url=url, store_id=STORE) as sdk,
    ):  # the start-up derived them
        assert await found(sdk, {"mood": {"string": "calm"}}) == ["calm"]
        assert await found(sdk, {"mood": {"string": "tense"}}) == ["tense"]
        assert await found(sdk, {"stars": {"number": 4}, "tags": {"list": ["b"]}}) == ["calm"]
        after = [await sdk.get_long_term_memory_async(memory_id=m["id"]) for m in OLD]
    assert after == before  # every field kept, updatedAt too

    async with Resources(settings.model_copy(update={"run_worker": False})) as res:
        store = res.long_term.store
        assert await backfill_attribute_tags(store) is None  # done: one EXISTS
        await written_the_old_way(settings)
        calm = TagIn(ATTRIBUTE_TAGS, (tag("string", "mood", "calm"),))
        assert await store.index.count(calm) == 0  # not filterable: no tags
        assert await backfill_attribute_tags(store, batch=1) == 2  # calm and tense
        assert await store.index.count(calm) == 1
        await res.redis.delete(res.keys.attribute_tags_backfilled)
        assert await backfill_attribute_tags(store) == 0  # idempotent: nothing stale


async def test_a_store_without_memories_is_marked_done_without_a_scan(settings: Settings) -> None:
    async with Resources(settings.model_copy(update={"run_worker": False})) as res:
        assert await res.redis.exists(res.keys.attribute_tags_backfilled)
        await res.redis.delete(res.keys.attribute_tags_backfilled)
        assert await backfill_attribute_tags(res.long_term.store) == 0
