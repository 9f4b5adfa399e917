"""remem notices a Redis Cluster by itself: a ``REDIS_URL`` naming any node opens redis-py's
cluster client (and its RESP2 twin), every primary is checked for the modules, and a single
Redis keeps the plain client it always had."""

from __future__ import annotations

import pytest
import redis
from redis.asyncio import Redis

from remem.config import Settings
from remem.errors import IncompatibleBackend
from remem.runtime import Resources
from remem.store.connection import (
    Cluster,
    check_modules,
    flat_twin,
    is_cluster,
    open_redis,
    slot_map_version,
)
from remem.store.slots import slot_tag


def _nodes(url: str) -> list[str]:
    with redis.Redis.from_url(url, decode_responses=True) as node:
        return [f"redis://{address.split('@')[0]}" for address in node.cluster("NODES")]


async def test_any_node_opens_the_cluster_client_and_its_twin(cluster_url: str) -> None:
    for url in _nodes(cluster_url):
        client = await open_redis(url, timeout=5, max_connections=4)
        twin = flat_twin(client)
        try:
            assert is_cluster(client) and isinstance(twin, Cluster)
            assert len(client.get_primaries()) == 3  # type: ignore[attr-defined]
            # Keys of every slot, each answered by the node holding it (MOVED followed).
            keys = [f"conn-test:{i}" for i in range(64)]
            for key in keys:
                await client.set(key, key)
            assert [await client.get(key) for key in keys] == keys
            await client.delete(*[k for k in keys])  # redis-py splits it by slot
        finally:
            await twin.aclose()
            await client.aclose()


async def test_the_twin_answers_searches_as_flat_lists(cluster_url: str) -> None:
    client = await open_redis(cluster_url, timeout=5, max_connections=4)
    twin = flat_twin(client)
    try:
        # An index name is routed like a key: this one, and its documents, share a slot.
        await client.execute_command(
            "FT.CREATE", "conn-test:idx:{t}", "ON", "HASH", "PREFIX", "1", "conn-test:{t}:",
            "SCHEMA", "word", "TEXT",
        )  # fmt: skip
        await client.hset("conn-test:{t}:1", "word", "hello")
        reply = await twin.execute_command("FT.SEARCH", "conn-test:idx:{t}", "hello")
        assert reply == [1, "conn-test:{t}:1", ["word", "hello"]]  # RESP2: count, id, fields
        answer = await client.execute_command("FT.SEARCH", "conn-test:idx:{t}", "hello")
        assert answer["total_results"] == 1  # RESP3: a map
    finally:
        await client.execute_command("FT.DROPINDEX", "conn-test:idx:{t}", "DD")
        await twin.aclose()
        await client.aclose()


async def test_every_primary_is_checked_for_the_modules(cluster_url: str) -> None:
    client = await open_redis(cluster_url, timeout=5, max_connections=4)
    try:
        versions = await check_modules(client)
    finally:
        await client.aclose()
    assert versions["primaries"] == 3
    assert versions["search"] >= 21000 and versions["ReJSON"] > 0
    assert str(versions["redis"]).startswith("8.")


async def test_a_single_redis_keeps_its_plain_client(redis_url: str) -> None:
    client = await open_redis(redis_url, timeout=5, max_connections=4)
    twin = flat_twin(client)
    try:
        assert type(client) is Redis and type(twin) is Redis
        assert not is_cluster(client)
        assert "primaries" not in await check_modules(client)
    finally:
        await twin.aclose()
        await client.aclose()


async def test_a_cluster_needs_a_redis_of_its_own_for_tasks(cluster_url: str) -> None:
    """Without REMEM_TASKS_REDIS_URL remem stops at start-up, saying why (pydocket's scripts
    name keys of several slots) before it builds or writes anything."""
    settings = Settings(redis_url=cluster_url, key_prefix="conn-test:", llm_base_url=None)
    with pytest.raises(IncompatibleBackend, match="Redis Cluster \\(3 primaries\\)") as caught:
        async with Resources(settings):
            pass
    assert "REMEM_TASKS_REDIS_URL" in str(caught.value) and "CROSSSLOT" in str(caught.value)


async def test_an_index_command_goes_straight_to_the_node_serving_the_index_name(
    cluster_url: str,
) -> None:
    """redis-py sends the Query Engine's commands to its default node as keyless ones, which
    costs a MOVED and a second round trip whenever the name is another node's; remem routes
    them by the name's slot (``IndexNamesAreKeys``), so the slot map never has to move."""
    client = await open_redis(cluster_url, timeout=5, max_connections=4)
    names = [f"route-test:{{{slot_tag(slot)}}}" for slot in (1, 6000, 12000)]
    try:
        for name in names:
            await client.execute_command(
                "FT.CREATE", name, "ON", "HASH", "PREFIX", 1, "route-test:", "SCHEMA", "t", "TEXT"
            )
        before = slot_map_version(client)
        for name in names * 3:
            found = await client.execute_command("FT.SEARCH", name, "*", "NOCONTENT")
            assert found["total_results"] == 0
            assert (await client.execute_command("FT.INFO", name))["index_name"] == name
        assert slot_map_version(client) == before  # not one redirection
    finally:
        for name in names:
            await client.execute_command("FT.DROPINDEX", name)
        await client.aclose()
