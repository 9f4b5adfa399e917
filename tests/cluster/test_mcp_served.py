"""The MCP server on a Redis Cluster, driven by the MCP SDK's own client over streamable HTTP
(``remem serve``'s app): every tool round-trips real data, compaction included, at ``/mcp``
(memories without a namespace, which spread over the primaries) and at ``/{namespace}/mcp`` for
a namespace on each primary; and over stdio, a ``remem mcp`` process given the cluster's two
URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp import Client
from redis.asyncio import Redis

from remem.app import build_app
from remem.config import Settings
from tests.cluster.conftest import spread_namespaces
from tests.mcp_server.test_mcp import call, round_trip, stdio
from tests.serving import served


@pytest.fixture
async def url(cluster_settings: Settings) -> AsyncIterator[str]:
    async with served(build_app(cluster_settings)) as base:
        yield base


async def test_every_tool_without_a_namespace(url: str) -> None:
    async with Client(f"{url}/mcp") as client:
        await round_trip(client, None)


async def test_every_tool_in_a_namespace_on_each_primary(url: str, redis: Redis) -> None:
    for namespace in await spread_namespaces(redis, per_primary=1, pattern="mcp-{}"):
        async with Client(f"{url}/{namespace}/mcp") as client:
            await round_trip(client, namespace)
            # Its ids free for the next namespace (an id another namespace holds is refused).
            gone = await call(client, "delete_long_term_memories", memory_ids=["m-tea"])
            assert gone["status"] == "ok, deleted 1 memories"


async def test_every_tool_over_stdio(cluster_settings: Settings, redis: Redis) -> None:
    """``remem mcp`` started as an MCP client starts it, given the cluster's two URLs, in a
    namespace of a primary other than the first."""
    assert cluster_settings.tasks_redis_url
    namespace = (await spread_namespaces(redis, per_primary=1, pattern="stdio-{}"))[-1]
    params = stdio(
        cluster_settings,
        REMEM_MCP_DEFAULT_NAMESPACE=namespace,
        REMEM_TASKS_REDIS_URL=cluster_settings.tasks_redis_url,
    )
    async with Client(params) as client:
        await round_trip(client, namespace)
