"""Answers that hold while a Redis Cluster's slots move.

Without a coordinator each primary indexes its own keys, and a search asks the primaries the
client's slot map names (``store.fanout``). When an operator moves slots (resharding with
``MIGRATE``, a failover), that map can be stale, a slot can be half moved (some of its keys on
each side), and a primary can lose the slot its index is named in. ``settled`` gives an answer
only when none of that can have touched it:

- **After a move** (the map is stale, or a primary lacks the index the map names): the map is
  read anew, every primary is given its indexes under the names the map now gives them
  (``Cluster.reensure``: an index made for a primary that gained its name slot is built from
  its keys before it is used), and the question is asked again.
- **During a move**: a question about one namespace is answered once its slot is not moving,
  checked after the answer by asking the slot's owner for a key of it (``namespace_probe``: the
  owner answers ``ASK`` while the slot migrates, ``MOVED`` once it has given it away); it
  waits for the slot's move to end. A question over every primary holds when no key moved
  while it was asked, by each primary's own line of ``CLUSTER NODES``, before and after: how
  many keys it still holds in each slot it is migrating away (``CLUSTER COUNTKEYSINSLOT``: a
  migrating slot's count on the giver only falls, by ``MIGRATE`` or a delete) is the same,
  and a slot that changed hands meanwhile holds no key where it went. Then every key of a
  half-moved slot was on one side or the other when asked, and was found once, so a long
  reshard does not hold such questions up, only the moments its keys are in flight (the state
  read after one question is the next one's "before": one read a question). Past
  ``MOVE_WAIT_SECONDS`` without such a moment: a 503, never a partial answer (a map found
  stale then is read anew once more first: only a move still under way, or a map still stale
  after that read, is a 503; the log says what each try saw).
- **A replica takes over** (its primary failed, or an operator's ``CLUSTER FAILOVER``): a node
  the map names does not answer. The map is read anew and the question asked again, once: a
  second node that does not answer is a 503 at once (the cluster has not yet voted a replica
  in, or there is none), as on a single Redis that is down.

On a single Redis the question is just asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import AskError, MovedError, ResponseError
from redis.exceptions import ConnectionError as NodeDown
from redis.exceptions import TimeoutError as NodeSilent

from remem.errors import BackendUnavailable
from remem.store.connection import slot_map_version
from remem.store.keys import encode_part
from remem.store.slots import key_slot

log = logging.getLogger(__name__)
T = TypeVar("T")
MOVE_WAIT_SECONDS = 5.0  # how long a question waits for a move to end before a 503
_POLL_SECONDS = 0.02


class _State(Enum):
    STILL = "still"  # the answer holds
    MOVING = "moving"  # a slot is migrating: wait, ask again
    STALE = "stale"  # the map or the indexes lag a move: follow it, ask again
    DOWN = "down"  # a node the map names did not answer (failed, failed over): as STALE, once


def namespace_probe(namespace: str) -> str:
    """A key in ``namespace``'s slot that no one writes: its owner answers ``ASK`` for it while
    the slot migrates and ``MOVED`` once it has given the slot away."""
    return f"{{{encode_part(namespace)}}}:probe"


def _version(redis: Redis) -> int:
    return slot_map_version(redis) or 0


async def follow_slots(redis: Redis, seen: int) -> None:
    """Read the slot map anew and give every primary the indexes this process uses under the
    names the map now gives them, unless another question did since the map was at ``seen``."""
    async with redis.following:  # type: ignore[attr-defined]
        if redis.followed > seen:  # type: ignore[attr-defined]
            return
        await redis.nodes_manager.initialize()  # type: ignore[attr-defined]
        for ensure in list(redis.reensure.values()):  # type: ignore[attr-defined]
            await ensure()
        redis.followed = _version(redis)  # type: ignore[attr-defined]


async def _namespace_state(redis: Redis, probe: str) -> _State:
    """Whether the slot of ``probe`` is where the map says, and not moving (asked of the node
    the map names, without following a redirection)."""
    node = redis.nodes_manager.get_node_from_slot(key_slot(probe))  # type: ignore[attr-defined]
    try:
        await node.execute_command("EXISTS", probe)
    except MovedError:  # a subclass of AskError
        return _State.STALE
    except AskError:
        return _State.MOVING
    return _State.STILL


@dataclass(frozen=True)
class _Shards:
    """What an answer over every primary relies on: the slots each primary serves, and how
    many keys each still holds in every slot it is migrating away."""

    nodes: dict[str, Any]  # name -> redis-py's node
    owned: dict[str, tuple[str, ...]]  # name -> its slot ranges, as its line gives them
    held: dict[tuple[str, int], int]

    def moved_since(self, before: _Shards) -> list[tuple[str, int]]:
        """(new owner, slot) of each slot that changed hands since ``before`` (ranges compared
        as text first: they seldom change)."""
        return [
            (name, slot)
            for name, ranges in self.owned.items()
            if ranges != before.owned.get(name)
            for slot in _slots(ranges) - _slots(before.owned.get(name, ()))
        ]


def _slots(ranges: tuple[str, ...]) -> set[int]:
    owned: set[int] = set()
    for field in ranges:
        first, _, last = field.partition("-")
        owned.update(range(int(first), int(last or first) + 1))
    return owned


async def _shards(redis: Redis) -> _Shards:
    """Every primary's own line of ``CLUSTER NODES`` (asked of all at once), then the keys
    each holds in the slots it is migrating (``CLUSTER COUNTKEYSINSLOT``)."""
    nodes = {node.name: node for node in redis.get_primaries()}  # type: ignore[attr-defined]
    texts = await asyncio.gather(
        *(node.execute_command("CLUSTER", "NODES") for node in nodes.values())
    )
    owned, migrating = {}, {}
    for name, text in zip(nodes, texts, strict=True):
        text = text.decode() if isinstance(text, bytes) else str(text)
        for line in text.splitlines():
            fields = line.split()
            if len(fields) > 7 and "myself" in fields[2]:
                owned[name] = tuple(f for f in fields[8:] if not f.startswith("["))
                migrating[name] = [int(f[1:].split("->-")[0]) for f in fields[8:] if "->-" in f]
    counted = await asyncio.gather(*(_counts(nodes[n], s) for n, s in migrating.items() if s))
    held = {(name, slot): count for found in counted for name, slot, count in found}
    return _Shards(nodes, owned, held)


async def _undisturbed(redis: Redis, before: _Shards) -> bool:
    """Whether no key can have moved since ``before``: each migrating slot holds as many keys
    as it did, and each slot that changed hands meanwhile holds none where it went. The state
    read now is kept as the next question's ``before``."""
    after = await _shards(redis)
    redis.remem_shards = after  # type: ignore[attr-defined]
    if after.held != before.held:
        return False
    for name, slot in after.moved_since(before):
        if await after.nodes[name].execute_command("CLUSTER", "COUNTKEYSINSLOT", slot):
            return False
    return True


async def settled(
    redis: Redis,
    ask: Callable[[], Awaitable[T]],
    probe: str | None = None,
    via: Redis | None = None,
) -> T:
    """``ask()``'s answer once no slot move can have touched it (see the module). ``probe``: a
    key of the one namespace the question is about (``namespace_probe``); without one the
    question is taken to span every primary. ``via``: another client of the same cluster that
    ``ask`` sends through (the store's RESP2 twin), whose slot map is watched and read anew
    with ``redis``'s."""
    if slot_map_version(redis) is None:
        return await ask()
    started = time.monotonic()
    tried: Counter[str] = Counter()  # why each answer was not taken, for the log
    while True:
        seen, seen_via = _version(redis), _version(via) if via is not None else 0
        state = await _asked(redis, ask, probe)
        if isinstance(state, tuple):
            if _version(redis) == seen and (via is None or _version(via) == seen_via):
                return state[0]
            tried["map changed while asked"] += 1
            state = _State.STALE
        else:
            tried[state.value] += 1
        if state is _State.DOWN:
            if tried[state.value] > 1:
                raise BackendUnavailable("a Redis Cluster node does not answer: try again")
            redis.remem_shards = None  # type: ignore[attr-defined] # named the node that failed
        late = time.monotonic() > started + MOVE_WAIT_SECONDS
        # Past the wait, a map found stale is still read anew once: only a move that has not
        # ended, or a map that stays stale after a new read, is a 503.
        if late and (state is _State.MOVING or tried["followed late"]):
            log.warning(
                "no settled answer in %.1f s (probe %s): %s; map version %s, followed %s",
                time.monotonic() - started, probe, dict(tried), _version(redis),
                getattr(redis, "followed", None),
            )  # fmt: skip
            raise BackendUnavailable("the Redis Cluster's slots are moving: try again")
        if state is _State.MOVING:
            await asyncio.sleep(_POLL_SECONDS)
            continue
        tried["followed late"] += late
        if via is not None:
            await via.nodes_manager.initialize()  # type: ignore[attr-defined]
        await follow_slots(redis, seen)


async def _counts(node: Any, slots: list[int]) -> list[tuple[str, int, int]]:
    """How many keys ``node`` holds in each of ``slots``, one at a time (one connection)."""
    return [
        (node.name, slot, int(await node.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot)))
        for slot in slots
    ]


async def _asked(
    redis: Redis, ask: Callable[[], Awaitable[T]], probe: str | None
) -> tuple[T] | _State:
    """``(answer,)`` when it holds, else what kept it from holding."""
    try:
        return await _asked_once(redis, ask, probe)
    except (NodeDown, NodeSilent):
        return _State.DOWN


async def _asked_once(
    redis: Redis, ask: Callable[[], Awaitable[T]], probe: str | None
) -> tuple[T] | _State:
    before = None
    if probe is None:  # the last state read will do: it was read before this question began
        before = getattr(redis, "remem_shards", None) or await _shards(redis)
    try:
        answer = await ask()
    except ResponseError as exc:
        if "no such index" not in str(exc).lower():
            raise
        return _State.STALE
    if probe is not None:
        state = await _namespace_state(redis, probe)
        return (answer,) if state is _State.STILL else state
    # Every primary's own index was asked, wherever the map places things: a key moved
    # meanwhile means asking again, not reading the map anew.
    assert before is not None
    return (answer,) if await _undisturbed(redis, before) else _State.MOVING
