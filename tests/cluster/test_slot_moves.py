"""Slots that move: after a primary gives away every slot (keys included), and after a third of
the slots move while sessions are written, remem's answers are exact again: every session found
once, every listing whole, through indexes that follow the slots.

These tests reshard a cluster of their own (``LocalCluster.move_slots``), not the shared one."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from remem.errors import BackendUnavailable
from remem.memory.longterm import LongTermMemoryService
from remem.memory.working import WorkingMemoryService
from remem.models.memory import MemoryRecord
from remem.models.search import SearchRequest
from remem.models.working import MemoryMessage, UpdateWorkingMemory
from remem.store import moving
from remem.store.connection import open_redis
from remem.store.keys import Keys, encode_part
from remem.store.local_cluster import LocalCluster
from remem.store.longterm import LongTermStore
from remem.store.schema import ensure_index, ensure_long_term_index, working_memory_index
from remem.store.slots import key_slot
from remem.store.working import WorkingMemoryStore
from tests.longterm.conftest import DIMS, WordEmbedder

NAMESPACES = [f"team {i}/{{x}}" for i in range(30)]  # spaces, slashes and braces


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path / "cluster") as started:
        yield started


@pytest.fixture
async def service(cluster: LocalCluster) -> AsyncIterator[WorkingMemoryService]:
    redis = await open_redis(cluster.url, timeout=10, max_connections=16)
    keys = Keys(f"t{uuid.uuid4().hex[:10]}:", cluster=True)
    spec = working_memory_index(keys, f"{keys.prefix}sessions")
    await ensure_index(redis, keys, spec)
    yield WorkingMemoryService(WorkingMemoryStore(redis, keys, spec.name), debounce_seconds=30)
    await redis.aclose()


def _body(namespace: str, text: str) -> UpdateWorkingMemory:
    return UpdateWorkingMemory(
        namespace=namespace, user_id="ann", messages=[MemoryMessage(role="user", content=text)]
    )


async def _listing(service: WorkingMemoryService, namespace: str | None) -> tuple[int, list]:
    page = await service.list_sessions(
        namespace=namespace, user_id=None, limit=10_000, offset=0, sort="created_at",
        descending=True,
    )  # fmt: skip
    return page.total, list(page.sessions)  # session ids, unique over the namespaces here


async def _exact(service: WorkingMemoryService, written: set[tuple[str, str]]) -> None:
    total, everything = await _listing(service, None)
    assert total == len(written) and set(everything) == {s for _, s in written}
    assert len(everything) == len(set(everything))  # none twice
    for namespace in NAMESPACES:
        mine = {s for n, s in written if n == namespace}
        total, listed = await _listing(service, namespace)
        assert (total, set(listed)) == (len(mine), mine), namespace
    for namespace, session in sorted(written)[::7]:
        got = await service.get(session, namespace=namespace, user_id="ann")
        assert got.messages[0].content == f"{namespace}/{session}"


async def test_after_a_primary_gives_every_slot_away_each_listing_is_exact(
    cluster: LocalCluster, service: WorkingMemoryService
) -> None:
    written = set()
    for i, namespace in enumerate(NAMESPACES):
        for session in (f"{i}a", f"{i}b"):
            await service.put(session, _body(namespace, f"{namespace}/{session}"))
            written.add((namespace, session))
    await _exact(service, written)

    moved = await asyncio.to_thread(cluster.drain, cluster.ports[0])
    assert moved > 0
    assert set(cluster.owners().values()) == set(cluster.ports[1:])
    await _exact(service, written)
    # and new writes land where the slots now are
    await service.put("0c", _body(NAMESPACES[0], f"{NAMESPACES[0]}/0c"))
    written.add((NAMESPACES[0], "0c"))
    await _exact(service, written)


async def test_a_third_of_the_slots_move_under_writes_and_no_acknowledged_write_is_lost(
    cluster: LocalCluster, service: WorkingMemoryService
) -> None:
    owners = cluster.owners()
    ring = {port: cluster.ports[(i + 1) % 3] for i, port in enumerate(cluster.ports)}
    by_target: dict[int, list[int]] = {}
    for slot in range(0, 16384, 3):  # a third of the slots, each to the next primary
        by_target.setdefault(ring[owners[slot]], []).append(slot)
    written: set[tuple[str, str]] = set()
    failed: list[BaseException] = []
    moving = True

    async def writer(w: int) -> None:
        n = 0
        while moving or n < 5:
            namespace = NAMESPACES[(w * 7 + n) % len(NAMESPACES)]
            session = f"w{w}-{n}"
            try:
                await service.put(session, _body(namespace, f"{namespace}/{session}"))
            except BackendUnavailable as exc:  # a 503, not acknowledged: it need not be there
                failed.append(exc)
            else:
                written.add((namespace, session))
            n += 1
            await asyncio.sleep(0.02)  # a few thousand sessions in all

    async def move() -> None:
        nonlocal moving
        try:
            for target, slots in by_target.items():
                await asyncio.to_thread(cluster.move_slots, slots, target)
        finally:
            moving = False

    await asyncio.gather(move(), *(writer(w) for w in range(4)))
    # A new session's script names keys the move may have split (TRYAGAIN): past redis-py's
    # redirections it is a 503; with slots moved 32 at a time none was seen in 10 runs.
    assert len(written) > 100 and len(failed) < len(written) / 20, (len(written), failed[:3])
    await _exact(service, written)


async def _half_moved(
    cluster: LocalCluster, service: WorkingMemoryService, namespace: str
) -> tuple[set[str], object]:
    """40 sessions of ``namespace``, its slot's move begun and half its keys sent over."""
    sessions = {f"h{i}" for i in range(40)}
    for session in sessions:
        await service.put(session, _body(namespace, f"{namespace}/{session}"))
    slot = key_slot(f"{{{encode_part(namespace)}}}")
    owner = cluster.owners()[slot]
    target = next(p for p in cluster.ports if p != owner)
    return sessions, (slot, target)


async def test_while_a_namespace_s_slot_moves_its_listing_waits_and_one_over_all_does_not(
    cluster: LocalCluster, service: WorkingMemoryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The move ends half a second in. A CI run once gave up at the default 5 s: the wait is
    # made long enough for a loaded machine; one that never ends still fails, and the log
    # says what each try saw.
    monkeypatch.setattr(moving, "MOVE_WAIT_SECONDS", 30.0)
    namespace = NAMESPACES[3]
    sessions, (slot, target) = await _half_moved(cluster, service, namespace)
    with cluster.moving(slot, target) as move:
        move.begin()
        assert move.send(at_most=20) == 20  # 20 sessions here, the rest there
        # Over every primary: no key is in flight, so each is found on one side, once.
        total, listed = await _listing(service, None)
        assert total == 40 and set(listed) == sessions and len(listed) == 40

        async def finish_later() -> float:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(move.end)
            return time.monotonic()

        async def listed_when() -> tuple[float, tuple[int, list[str]]]:
            found = await _listing(service, namespace)
            return time.monotonic(), found

        ended, (answered, (total, listed)) = await asyncio.gather(finish_later(), listed_when())
    assert answered >= ended  # the namespace's listing waited for its slot
    assert (total, set(listed)) == (40, sessions)


async def test_a_move_that_does_not_end_gives_a_503_not_a_partial_listing(
    cluster: LocalCluster, service: WorkingMemoryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moving, "MOVE_WAIT_SECONDS", 0.3)
    namespace = NAMESPACES[5]
    _, (slot, target) = await _half_moved(cluster, service, namespace)
    with cluster.moving(slot, target) as move:
        move.begin()
        move.send(at_most=20)
        with pytest.raises(BackendUnavailable):
            await _listing(service, namespace)
        move.end()
    assert (await _listing(service, namespace))[0] == 40


@pytest.fixture
async def memories(cluster: LocalCluster) -> AsyncIterator[LongTermMemoryService]:
    redis = await open_redis(cluster.url, timeout=10, max_connections=16)
    keys = Keys(f"t{uuid.uuid4().hex[:10]}:", cluster=True)
    await ensure_long_term_index(redis, keys, f"{keys.prefix}memories", DIMS)
    service = LongTermMemoryService(
        LongTermStore(redis, keys, f"{keys.prefix}memories"), WordEmbedder()
    )
    await service.start()
    yield service
    await service.close()
    await service.store.aclose()


async def _found(service: LongTermMemoryService, namespace: str | None) -> tuple[int, set[str]]:
    scope = {"eq": namespace} if namespace else None
    found = []
    for mode in ("keyword", "semantic"):  # both find every memory
        page = await service.search(
            SearchRequest(text="tea", namespace=scope, limit=1000, search_mode=mode)
        )
        found.append((page.total, {m.id for m in page.memories}))
    assert found[0] == found[1]
    return found[0]


async def test_long_term_memories_written_while_a_third_of_the_slots_move_are_all_found(
    cluster: LocalCluster, memories: LongTermMemoryService
) -> None:
    """Every memory's text holds "tea", so a keyword search finds all, and a semantic one
    with a limit past their number returns all: after the moves, each namespace's search and
    the search over every namespace find exactly the memories acknowledged."""
    owners = cluster.owners()
    ring = {port: cluster.ports[(i + 1) % 3] for i, port in enumerate(cluster.ports)}
    by_target: dict[int, list[int]] = {}
    for slot in range(1, 16384, 3):
        by_target.setdefault(ring[owners[slot]], []).append(slot)
    written: dict[str, str] = {}  # id -> namespace
    moving_now = True

    async def writer(w: int) -> None:
        n = 0
        while moving_now or n < 3:
            namespace = NAMESPACES[(w * 11 + n) % len(NAMESPACES)]
            record = MemoryRecord(id=f"w{w}-{n}", text=f"tea note {w} {n}", namespace=namespace)
            with contextlib.suppress(BackendUnavailable):  # a 503: not acknowledged
                await memories.create([record])
                written[record.id] = namespace
            n += 1
            await asyncio.sleep(0.01)

    async def move() -> None:
        nonlocal moving_now
        try:
            for target, slots in by_target.items():
                await asyncio.to_thread(cluster.move_slots, slots, target)
        finally:
            moving_now = False

    await asyncio.gather(move(), *(writer(w) for w in range(3)))
    # A create asks every primary whether another namespace holds its id: while keys are in
    # flight that question waits for a moment none is, so creates are slow during the moves.
    assert len(written) >= 6
    assert await _found(memories, None) == (len(written), set(written))
    for namespace in NAMESPACES:
        mine = {i for i, n in written.items() if n == namespace}
        assert await _found(memories, namespace) == (len(mine), mine), namespace
    for memory_id in sorted(written)[::5]:
        assert (await memories.get(memory_id)).namespace == written[memory_id]
