"""``remem migrate`` refuses a Redis Cluster before touching anything: its scripts move keys
across hash slots. A single Redis migrates as before (tests/upkeep)."""

from __future__ import annotations

import uuid

import pytest

from remem.config import Settings
from remem.errors import IncompatibleBackend
from remem.store.connection import open_redis
from remem.store.legacy import refuse_cluster
from remem.upkeep.migrate import run_migration


async def test_migrate_refuses_a_cluster_and_leaves_it_alone(cluster_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    redis = await open_redis(cluster_url, timeout=5, max_connections=4)
    legacy = f"working_memory:{prefix}s1"  # an Agent Memory Server session
    await redis.set(legacy, '{"session_id": "s1", "messages": []}')
    settings = Settings(
        redis_url=cluster_url,
        key_prefix=prefix,
        working_memory_index=f"{prefix}working_memory_idx",
        long_term_memory_index=f"{prefix}long_term_memory_idx",
        llm_base_url=None,
        llm_api_key=None,
    )
    try:
        with pytest.raises(IncompatibleBackend, match="remem migrate runs on a single Redis"):
            await run_migration(settings, echo=lambda line: None, progress=lambda line: None)
        assert await redis.get(legacy) is not None  # not moved
        for node in redis.get_primaries():  # type: ignore[attr-defined]
            listed = await redis.execute_command("FT._LIST", target_nodes=node)
            assert not [name for name in listed if name.startswith(prefix)]  # no index made
    finally:
        await redis.delete(legacy)
        await redis.aclose()


async def test_a_single_redis_is_not_refused(redis_url: str) -> None:
    assert await refuse_cluster(redis_url, 5) is None
