"""A user's or a namespace's data on a cluster, as an export reads it and an erase unlinks it:
sessions and memories found on the namespace's primary or on every primary, pages exact and
oldest first, memory ids each once (ties on created_at across pages included), counts summed,
and nothing of another owner touched."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from remem.memory.working import WorkingMemoryService
from remem.models.working import MemoryMessage, UpdateWorkingMemory
from remem.store.keys import Keys
from remem.store.owned import OwnedData
from remem.store.schema import ensure_index, ensure_long_term_index, working_memory_index
from remem.store.slots import key_slot
from remem.store.working import WorkingMemoryStore

NAMESPACES = [f"ns {i}/{{x}}" for i in range(9)]


@pytest.fixture
async def owned(redis: Redis, keys: Keys) -> AsyncIterator[OwnedData]:
    spec = working_memory_index(keys, f"{keys.prefix}sessions")
    await ensure_index(redis, keys, spec)
    memories = f"{keys.prefix}memories"
    await ensure_long_term_index(redis, keys, memories, 64)
    service = WorkingMemoryService(WorkingMemoryStore(redis, keys, spec.name))
    said = [MemoryMessage(role="user", content="hello")]
    for i, namespace in enumerate(NAMESPACES):
        for user in ("ann", "bob"):
            body = UpdateWorkingMemory(namespace=namespace, user_id=user, messages=said)
            await service.put(f"s{i}", body)
    data = OwnedData(redis, keys, spec.name, memories, page=4)
    yield data
    await data.aclose()


async def _memory(
    redis: Redis, keys: Keys, memory_id: str, namespace: str, user: str, at: float
) -> str:
    key = keys.memory(memory_id, namespace)
    fields = {"id": memory_id, "namespace": namespace, "user_id": user, "created_at": repr(at)}
    await redis.hset(key, mapping=fields)
    await redis.hincrby(keys.access_counts_of(key), memory_id, 2)
    return key


async def _memories(redis: Redis, keys: Keys) -> dict[str, list[str]]:
    """Ann's 30 memories (13 created at one instant, more than a page) and Bob's 9: keys by
    user."""
    made: dict[str, list[str]] = {"ann": [], "bob": []}
    for i in range(30):
        at = 1000.0 if i < 13 else 1000.0 + i
        key = await _memory(redis, keys, f"a{i}", NAMESPACES[i % 9], "ann", at)
        made["ann"].append(key)
    for i in range(9):
        made["bob"].append(await _memory(redis, keys, f"b{i}", NAMESPACES[i], "bob", 999.0))
    return made


async def test_an_export_reads_a_user_s_data_from_every_primary(
    redis: Redis, keys: Keys, owned: OwnedData
) -> None:
    made = await _memories(redis, keys)
    assert len({redis.nodes_manager.get_node_from_slot(key_slot(k)).name for k in made["ann"]}) == 3  # type: ignore[attr-defined]
    pages, offset = [], 0
    while page := await owned.session_documents(None, "ann", offset):
        pages.append(page)
        offset += owned.page
    assert [len(p) for p in pages] == [4, 4, 1]
    found = [doc for page in pages for _, doc in page]
    assert sorted(d["namespace"] for d in found) == sorted(NAMESPACES)
    assert {d["user_id"] for d in found} == {"ann"}
    dates = [d["created_at"] for d in found]
    assert dates == sorted(dates)

    batches = [ids async for ids in owned.memory_ids(None, "ann")]
    assert all(len(b) <= 4 for b in batches)
    ids = [i for b in batches for i in b]
    assert sorted(ids) == sorted(f"a{i}" for i in range(30))  # each once, ties included
    assert ids[13:] == [f"a{i}" for i in range(13, 30)]  # oldest first

    one = [i async for b in owned.memory_ids(NAMESPACES[2], None) for i in b]
    assert sorted(one) == sorted(["a2", "a11", "a20", "a29", "b2"])
    assert await owned.count(None, "ann") == (9, 30)
    assert await owned.count(NAMESPACES[2], None) == (2, 5)


async def test_an_erase_unlinks_only_its_scope(redis: Redis, keys: Keys, owned: OwnedData) -> None:
    made = await _memories(redis, keys)
    memories, counters = await owned.memories(None, "ann")
    assert (memories, counters) == (30, 30)
    assert await redis.exists(*made["ann"]) == 0
    assert await redis.exists(*made["bob"]) == 9
    for key in made["bob"]:  # Bob's hits stay beside his memories
        assert await redis.hget(keys.access_counts_of(key), keys.parse_memory(key)) == "2"
    for key in made["ann"]:  # each namespace's generation token was replaced
        assert await redis.get(keys.long_term_generation_of(key)) is not None

    sessions, unlinked = await owned.sessions(NAMESPACES[4], None)
    assert unlinked == 2 and {(s.user_id, s.namespace) for s in sessions} == {
        ("ann", NAMESPACES[4]),
        ("bob", NAMESPACES[4]),
    }
    assert await owned.count(None, "ann") == (8, 0)
    assert await owned.count(None, "bob") == (8, 9)
