"""A three-primary Redis Cluster for the tests of this folder (marker ``cluster``, selected with
``-m cluster``), started once per run from the embedded Redis's wheels
(``remem.store.local_cluster``) or named by ``REMEM_TEST_CLUSTER_URL`` (any node of a running
cluster)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from remem.store.connection import open_redis
from remem.store.keys import Keys
from remem.store.local_cluster import LocalCluster


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A node of the cluster the tests run against: ``REMEM_TEST_CLUSTER_URL`` (CI may start one
    with ``python -m remem.store.local_cluster start DIR``) or one started here."""
    given = os.environ.get("REMEM_TEST_CLUSTER_URL")
    if given:
        yield given
        return
    with LocalCluster(Path(tmp_path_factory.mktemp("cluster"))) as started:
        yield started.url


@pytest.fixture
async def redis(cluster_url: str) -> AsyncIterator[Redis]:
    """A cluster client of the test cluster."""
    client = await open_redis(cluster_url, timeout=5, max_connections=8)
    yield client
    await client.aclose()


@pytest.fixture
async def keys(redis: Redis) -> AsyncIterator[Keys]:
    """Key names of a cluster under a fresh prefix; afterwards its indexes are dropped on
    every primary."""
    keys = Keys(f"t{uuid.uuid4().hex[:10]}:", cluster=True)
    yield keys
    for node in redis.get_primaries():  # type: ignore[attr-defined]
        for name in await redis.execute_command("FT._LIST", target_nodes=node):
            if name.startswith(keys.prefix):
                await redis.execute_command("FT.DROPINDEX", name, "DD")
