"""Working memory through its service on a cluster: writes, reads (with and without the
namespace and user), appends, listings and deletes, with their due work marked, and nothing
crossing slots."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from remem.errors import NotFound
from remem.memory.working import WorkingMemoryService
from remem.models.working import AppendMessages, MemoryMessage, UpdateWorkingMemory
from remem.store.connection import open_redis
from remem.store.keys import Keys
from remem.store.schema import ensure_index, working_memory_index
from remem.store.working import WorkingMemoryStore


@pytest.fixture
async def service(cluster_url: str) -> AsyncIterator[WorkingMemoryService]:
    redis = await open_redis(cluster_url, timeout=5, max_connections=8)
    keys = Keys(f"t{uuid.uuid4().hex[:10]}:", cluster=True)
    spec = working_memory_index(keys, f"{keys.prefix}sessions")
    await ensure_index(redis, keys, spec)
    yield WorkingMemoryService(WorkingMemoryStore(redis, keys, spec.name), debounce_seconds=30)
    for node in redis.get_primaries():  # type: ignore[attr-defined]
        for name in await redis.execute_command("FT._LIST", target_nodes=node):
            if name.startswith(keys.prefix):
                await redis.execute_command("FT.DROPINDEX", name, "DD")
    await redis.aclose()


def _said(*texts: str) -> list[MemoryMessage]:
    return [MemoryMessage(role="user", content=t) for t in texts]


async def test_a_session_s_life_on_a_cluster(service: WorkingMemoryService) -> None:
    for i in range(9):  # namespaces on every primary
        body = UpdateWorkingMemory(namespace=f"ns{i}", user_id="ann", messages=_said("hello"))
        await service.put("chat", body)
    await service.append(
        "chat", AppendMessages(namespace="ns4", user_id="ann", messages=_said("more"))
    )
    got = await service.get("chat", namespace="ns4", user_id="ann")
    assert [m.content for m in got.messages] == ["hello", "more"]
    # Without the user: found through ns4's primary; without the namespace: on every primary.
    assert (await service.get("chat", namespace="ns4")).user_id == "ann"
    await service.put("solo", UpdateWorkingMemory(namespace="ns7", messages=_said("x")))
    assert (await service.get("solo")).namespace == "ns7"

    listed = await service.list_sessions(
        user_id="ann", limit=5, offset=3, sort="created_at", descending=True
    )
    assert listed.total == 9 and len(listed.sessions) == 5
    one = await service.list_sessions(
        namespace="ns4", user_id=None, limit=10, offset=0, sort="created_at", descending=True
    )
    assert one.total == 1

    due = service.store.due
    claim = await due.claim(100, 30)
    assert claim.members == []  # extraction is debounced 30 s
    count, soonest = await due.upcoming(100)
    assert count == 10 and {m.split(":", 1)[0] for m, _ in soonest} == {"extract"}

    await service.delete("solo", namespace=None, user_id=None)  # found on its primary
    with pytest.raises(NotFound):
        await service.get("solo")
