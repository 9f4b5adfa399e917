"""A three-primary Redis Cluster for the tests of this folder (marker ``cluster``, selected with
``-m cluster``), started once per run from the embedded Redis's wheels
(``remem.store.local_cluster``) or named by ``REMEM_TEST_CLUSTER_URL`` (any node of a running
cluster)."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis as sync_redis
from redis.asyncio import Redis

from remem.config import Settings
from remem.store.connection import open_redis
from remem.store.keys import Keys, encode_part
from remem.store.local_cluster import LocalCluster


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)


# What no log of a cluster test may say: a command naming keys of two slots, or a redirection
# remem did not follow (issue 23: "no CROSSSLOT or unhandled MOVED in any log").
UNHANDLED = re.compile(r"CROSSSLOT|\bMOVED \d+|\bASK \d+")


@pytest.fixture(autouse=True)
def no_unhandled_redirections(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every record this process logs during a cluster test (remem's, redis-py's, the app's
    served in-process), at any level, is free of ``UNHANDLED``."""
    caplog.set_level(logging.DEBUG, logger="remem")
    yield
    said = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    seen = [line for line in said if UNHANDLED.search(line)]
    assert not seen, seen[:3]


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


async def spread_namespaces(
    redis: Redis, per_primary: int = 2, pattern: str = "team {}/x"
) -> list[str]:
    """Namespaces whose slots lie on every primary, ``per_primary`` on each of three (on a
    cluster of fewer primaries, as many namespaces spread over those), named by ``pattern``
    (by default with a space and a slash, percent-encoded in the keys)."""
    by_node: dict[str, list[str]] = {}
    primaries = len(redis.get_primaries())  # type: ignore[attr-defined]
    per_primary = max(per_primary, per_primary * 3 // primaries)
    for i in range(1000):
        name = pattern.format(i)
        node = redis.get_node_from_key(f"{{{encode_part(name)}}}")  # type: ignore[attr-defined]
        chosen = by_node.setdefault(node.name, [])
        if len(chosen) < per_primary:
            chosen.append(name)
        if len(by_node) == primaries and all(len(v) == per_primary for v in by_node.values()):
            break
    return sorted(n for names in by_node.values() for n in names)


@pytest.fixture
def cluster_settings(cluster_url: str, redis_url: str) -> Iterator[Settings]:
    """Settings of a fresh prefix on the test cluster, tasks in the test run's Redis; afterwards
    the prefix's indexes and keys are removed from every primary and from the tasks' Redis."""
    prefix = f"c{uuid.uuid4().hex[:10]}:"
    yield Settings(
        redis_url=cluster_url,
        tasks_redis_url=redis_url,
        key_prefix=prefix,
        working_memory_index=f"{prefix}working_memory_idx",
        long_term_memory_index=f"{prefix}long_term_memory_idx",
        llm_base_url=None,
        llm_api_key=None,
        extraction_debounce_seconds=0.2,
        task_poll_seconds=0.1,
        access_flush_seconds=0.2,
    )
    forget_prefix(cluster_url, redis_url, prefix)


def forget_prefix(cluster_url: str, tasks_url: str, prefix: str) -> None:
    """Drop the prefix's indexes and keys from every primary and from the tasks' Redis."""
    with sync_redis.RedisCluster.from_url(cluster_url, decode_responses=True) as cluster:
        for node in cluster.get_primaries():
            client = cluster.get_redis_connection(node)
            for name in client.execute_command("FT._LIST"):
                if name.startswith(prefix):
                    client.execute_command("FT.DROPINDEX", name, "DD")
            for key in client.scan_iter(match=f"{prefix}*", count=1000):
                client.unlink(key)
    with sync_redis.Redis.from_url(tasks_url) as tasks:
        for key in tasks.scan_iter(match=f"{prefix}*", count=1000):
            tasks.unlink(key)
