"""A replica that takes over: after an operator's ``CLUSTER FAILOVER`` and after its primary
dies, remem's answers over the new primary are exact (every session listed once, every memory
found by its namespace's search and the search over all), and new writes land.

These tests run a cluster of their own with a replica (``LocalCluster.add_replica``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
import redis as sync_redis

from remem.errors import BackendUnavailable
from remem.memory.longterm import LongTermMemoryService
from remem.memory.working import WorkingMemoryService
from remem.models.memory import MemoryRecord
from remem.store.keys import encode_part
from remem.store.local_cluster import LocalCluster
from remem.store.slots import key_slot
from tests.cluster.test_slot_moves import (
    NAMESPACES,
    _body,
    _exact,
    _found,
    memories,  # noqa: F401 - fixtures over this module's cluster
    service,  # noqa: F401
)

T = TypeVar("T")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path / "cluster") as started:
        started.add_replica(started.ports[0])
        yield started


def _replicated(port: int) -> None:
    """Every write the primary on ``port`` acknowledged has reached its replica."""
    with sync_redis.Redis(port=port, socket_timeout=10) as client:
        assert client.execute_command("WAIT", 1, 5000) == 1


async def _once_up(ask: Callable[[], Awaitable[T]], seconds: float = 30.0) -> T:
    """``ask()``'s answer, asked again while remem says Redis is unavailable: a write whose
    pipeline met a connection to the dead node is a 503 (not acknowledged), never retried by
    remem, as a write may have reached the node before it died."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await ask()
        except BackendUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _memories_exact(long_term: LongTermMemoryService, written: dict[str, str]) -> None:
    assert await _found(long_term, None) == (len(written), set(written))
    for namespace in NAMESPACES:
        mine = {i for i, n in written.items() if n == namespace}
        assert await _found(long_term, namespace) == (len(mine), mine), namespace
    for memory_id in sorted(written)[::5]:
        got = await long_term.get(memory_id)
        assert got is not None and got.namespace == written[memory_id]


async def test_a_replica_that_takes_over_answers_exactly(
    cluster: LocalCluster,
    service: WorkingMemoryService,  # noqa: F811
    memories: LongTermMemoryService,  # noqa: F811
) -> None:
    old, replica = cluster.ports[0], cluster.replicas[0]
    on_old = [n for n in NAMESPACES if cluster.owners()[key_slot(f"{{{encode_part(n)}}}")] == old]
    assert len(on_old) >= 5  # the test is about them
    sessions: set[tuple[str, str]] = set()
    written: dict[str, str] = {}
    for i, namespace in enumerate(NAMESPACES):
        for session in (f"{i}a", f"{i}b"):
            await service.put(session, _body(namespace, f"{namespace}/{session}"))
            sessions.add((namespace, session))
        for j in range(2):
            await memories.create(
                [MemoryRecord(id=f"m{i}-{j}", text=f"tea {i} {j}", namespace=namespace)]
            )
            written[f"m{i}-{j}"] = namespace
    await _exact(service, sessions)
    await _memories_exact(memories, written)

    # An operator's failover: the replica and its primary agree, nothing acknowledged is lost.
    _replicated(old)
    await asyncio.to_thread(cluster.failover, replica)
    assert replica in cluster.primary_ports() and old not in cluster.primary_ports()
    await _exact(service, sessions)
    await _memories_exact(memories, written)
    for k, namespace in enumerate(on_old[:3]):  # new writes land on the new primary
        await service.put(f"f{k}", _body(namespace, f"{namespace}/f{k}"))
        sessions.add((namespace, f"f{k}"))
        await memories.create([MemoryRecord(id=f"f{k}", text="tea f", namespace=namespace)])
        written[f"f{k}"] = namespace
    await _exact(service, sessions)
    await _memories_exact(memories, written)

    # A crash: the new primary dies and the cluster votes its replica (the old primary) in.
    _replicated(replica)
    cluster.kill(replica)
    await asyncio.to_thread(cluster.wait_primary, old, 60.0)
    # Once voted in, every read is exact at once: a question meeting the dead node reads the
    # slot map anew and is asked again (store.moving), a read of documents too.
    await _exact(service, sessions)
    await _memories_exact(memories, written)
    for k, namespace in enumerate(on_old[:3]):
        await _once_up(partial(service.put, f"g{k}", _body(namespace, f"{namespace}/g{k}")))
        sessions.add((namespace, f"g{k}"))
        record = MemoryRecord(id=f"g{k}", text="tea g", namespace=namespace)
        await _once_up(partial(memories.create, [record]))
        written[f"g{k}"] = namespace
    await _exact(service, sessions)
    await _memories_exact(memories, written)

    # A primary with no replica dies: its slots have no one to serve them, and a question
    # over every primary is a 503, not a partial answer.
    cluster.kill(cluster.ports[1])
    with pytest.raises(BackendUnavailable):
        await _found(memories, None)
    with pytest.raises(BackendUnavailable):
        await service.list_sessions(
            namespace=None, user_id=None, limit=10, offset=0, sort="created_at", descending=True
        )
