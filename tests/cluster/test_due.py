"""Due work on a Redis Cluster: a write marks its session in its namespace's due set, in the
session's slot (so its script never crosses slots), pollers find every namespace's set through
the registry, and a set is never left out while it holds work."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisClusterException

from remem.store.due import DueSet
from remem.store.due_cluster import ClusterDueSet
from remem.store.keys import PERIODIC_TAG, Keys
from remem.store.slots import key_slot
from remem.store.working import Due, WorkingMemoryStore


def _doc(session_id: str, namespace: str) -> dict[str, object]:
    return {"session_id": session_id, "namespace": namespace, "messages": [], "memories": []}


def _primary(redis: Redis, key: str) -> str:
    return str(redis.nodes_manager.get_node_from_slot(key_slot(key)).name)  # type: ignore[attr-defined]


async def test_writes_mark_their_namespace_s_set_on_its_primary(redis: Redis, keys: Keys) -> None:
    """PUT and append mark the session in the due set of its namespace, which sits in the
    session's slot; namespaces on every primary are found and claimed in one poll."""
    store = WorkingMemoryStore(redis, keys, "unused-index")
    assert isinstance(store.due, ClusterDueSet)
    namespaces = [f"ns{i}" for i in range(12)]
    for ns in namespaces:
        await store.put(("s1", "u", ns), _doc("s1", ns), Due(extract=0.0, promote=0.0))
        message = {"id": "m1", "role": "user", "content": "hi"}
        await store.append(("s2", "u", ns), _doc("s2", ns), [message], 0.0, None, Due(extract=0))
    primaries = {_primary(redis, keys.working_memory("s1", "u", ns)) for ns in namespaces}
    assert len(primaries) == 3  # the namespaces spread over every primary
    for ns in namespaces:
        session = keys.working_memory("s1", "u", ns)
        due, since = keys.due_set_of(session)
        assert key_slot(due) == key_slot(since) == key_slot(session)
    assert await store.due.tags() == sorted(
        keys.due_tag(keys.working_memory("s", "u", n)) for n in namespaces
    )  # type: ignore[attr-defined]

    claim = await store.due.claim(1000, 30)
    expected = {
        f"{kind}:{keys.working_memory(sid, 'u', ns)}"
        for ns in namespaces
        for kind, sid in (("extract", "s1"), ("promote", "s1"), ("extract", "s2"))
    }
    assert sorted(claim.members) == sorted(expected)
    assert len(claim.leases) == len(claim.members)
    assert await store.due.claim(1000, 30) == ([], "", ())  # leased: nothing due now
    assert await store.due.done(claim, [None] * len(claim.members)) == len(expected)
    assert await store.due.tags() == []  # every set emptied and unregistered
    assert await store.due.upcoming(10) == (0, [])


async def test_a_mark_during_a_lease_keeps_its_set_registered(redis: Redis, keys: Keys) -> None:
    """A session marked again while its claim is being scheduled keeps its later mark, and its
    set stays registered when the claim is settled."""
    due = ClusterDueSet(redis, keys)
    session = keys.working_memory("s", "u", "busy")
    await due.mark("extract", session, 0)
    claim = await due.claim(10, 30)
    assert claim.members == [f"extract:{session}"]
    await due.mark("extract", session, 60)  # a write meanwhile: due a minute from now
    assert await due.done(claim, [None]) == 0  # not settled: its score is no longer the lease
    assert await due.tags() == [keys.due_tag(session)]
    assert 55 < (await due.score(f"extract:{session}") or 0) - (await redis.time())[0] <= 61


async def test_pruning_looks_again_after_unregistering(redis: Redis, keys: Keys) -> None:
    """An empty set is unregistered; one holding a member stays (a write between the two
    looks re-registers it, or the second look does)."""
    due = ClusterDueSet(redis, keys)
    full, empty = (keys.working_memory("s", "u", ns) for ns in ("full", "empty"))
    await due.mark("extract", full, 30)
    await due.register(keys.due_tag(empty))
    await due.prune([keys.due_tag(full), keys.due_tag(empty)])
    assert await due.tags() == [keys.due_tag(full)]


async def test_periodic_work_has_a_set_of_its_own(redis: Redis, keys: Keys) -> None:
    due = ClusterDueSet(redis, keys)
    assert await due.seed("periodic:compact", 0)
    assert not await due.seed("periodic:compact", 0)  # NX: a second worker does not move it
    assert await due.tags() == [PERIODIC_TAG]
    claim = await due.claim(10, 30)
    assert claim.members == ["periodic:compact"]
    await due.done(claim, [3600.0])  # re-armed an hour on
    assert await due.tags() == [PERIODIC_TAG]
    count, soonest = await due.upcoming(5)
    assert count == 1 and soonest[0][0] == "periodic:compact"
    assert (await due.backlog())[0] == 0  # due later, not now


async def test_forgetting_sessions_clears_their_sets(redis: Redis, keys: Keys) -> None:
    due = ClusterDueSet(redis, keys)
    sessions = [keys.working_memory("s", "u", ns) for ns in ("a", "b", "c")]
    for session in sessions:
        await due.mark("extract", session, 0)
        await due.mark("summarize:4096", session, 0)
    await asyncio.sleep(0.01)
    assert (await due.backlog())[0] == 6
    assert await due.forget(sessions[:2]) == 4
    assert [m.split(":", 1)[0] for m, _ in (await due.upcoming(10))[1]] == ["extract", "summarize"]


async def test_one_due_set_for_every_namespace_would_cross_slots(redis: Redis, keys: Keys) -> None:
    """Why the sets are per namespace: the single-Redis names cross slots on a cluster."""
    single = Keys(keys.prefix)
    store = WorkingMemoryStore(redis, single, "unused-index")
    assert type(store.due) is DueSet
    # redis-py's cluster client refuses it before Redis would (CROSSSLOT).
    with pytest.raises(RedisClusterException, match="all keys must map to the same key slot"):
        await store.put(("s", "u", "ns"), _doc("s", "ns"), Due(extract=0.0))


async def test_a_session_without_namespace_marks_a_set_in_its_own_slot(
    redis: Redis, keys: Keys
) -> None:
    """Its key's tag is empty, so Redis hashes the whole key: its due set takes the tag of
    that slot, and such sessions spread over the primaries with their sets."""
    store = WorkingMemoryStore(redis, keys, "unused-index")
    sessions = [f"s{i}" for i in range(12)]
    for sid in sessions:
        await store.put((sid, "u", None), _doc(sid, ""), Due(promote=0.0))
    slots = set()
    for sid in sessions:
        session = keys.working_memory(sid, "u", None)
        assert key_slot(keys.due_set_of(session)[0]) == key_slot(session)
        slots.add(key_slot(session))
    assert len(slots) > 1
    claim = await store.due.claim(100, 30)
    assert sorted(claim.members) == sorted(
        f"promote:{keys.working_memory(sid, 'u', None)}" for sid in sessions
    )
    assert await store.due.done(claim, [None] * len(sessions)) == len(sessions)
    assert await store.due.tags() == []
