"""Summary views on a cluster: a view and its summaries share a slot, so deleting both is one
MULTI there too."""

from __future__ import annotations

import uuid

import pytest
from redis.exceptions import RedisClusterException

from remem.store.connection import open_redis
from remem.store.keys import Keys
from remem.store.slots import key_slot
from remem.store.views import ViewStore


async def test_a_view_and_its_summaries_are_deleted_together(cluster_url: str) -> None:
    redis = await open_redis(cluster_url, timeout=5, max_connections=4)
    try:
        keys = Keys(f"t{uuid.uuid4().hex[:10]}:", cluster=True)
        assert key_slot(keys.summary_views) == key_slot(keys.summary_view_results("v/1"))
        store = ViewStore(redis, keys)
        await store.save_view("v/1", '{"id": "v/1"}')
        await store.save_result("v/1", "ns=a", '{"summary": "s"}')
        assert await store.delete_view("v/1")
        assert await store.get_view("v/1") is None and await store.list_results("v/1") == {}
        # The names of a single Redis would cross slots in that MULTI.
        single = ViewStore(redis, Keys(keys.prefix))
        await single.save_view("v/2", "{}")
        with pytest.raises(RedisClusterException):
            await single.delete_view("v/2")
        await redis.delete(Keys(keys.prefix).summary_views)
    finally:
        await redis.aclose()
