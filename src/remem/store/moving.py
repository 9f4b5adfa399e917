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
  owner answers ``ASK`` while the slot migrates, ``MOVED`` once it has given it away). A
  question over every primary is answered once no primary reports a slot migrating or
  importing and none took a slot while it was asked (each primary's own line of ``CLUSTER
  NODES``, before and after: a primary that takes a slot bumps its config epoch). It waits
  for the move to end (``MOVE_WAIT_SECONDS``), then answers 503: slower, never partial.

On a single Redis the question is just asked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import AskError, MovedError, ResponseError

from remem.errors import BackendUnavailable
from remem.store.connection import slot_map_version
from remem.store.keys import encode_part
from remem.store.slots import key_slot

T = TypeVar("T")
MOVE_WAIT_SECONDS = 5.0  # how long a question waits for a move to end before a 503
_POLL_SECONDS = 0.05


class _State(Enum):
    STILL = "still"  # the answer holds
    MOVING = "moving"  # a slot is migrating: wait, ask again
    STALE = "stale"  # the map or the indexes lag a move: follow it, ask again


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


async def _primaries_state(redis: Redis) -> dict[str, tuple[str, bool]]:
    """Each primary's own config epoch and whether it is migrating or importing a slot."""
    out = {}
    for node in redis.get_primaries():  # type: ignore[attr-defined]
        text = await node.execute_command("CLUSTER", "NODES")
        if isinstance(text, bytes):
            text = text.decode()
        for line in str(text).splitlines():
            fields = line.split()
            if len(fields) > 7 and "myself" in fields[2]:
                moving = any("->-" in f or "-<-" in f for f in fields[8:])
                out[node.name] = (fields[6], moving)
    return out


async def settled(redis: Redis, ask: Callable[[], Awaitable[T]], probe: str | None = None) -> T:
    """``ask()``'s answer once no slot move can have touched it (see the module). ``probe``: a
    key of the one namespace the question is about (``namespace_probe``); without one the
    question is taken to span every primary."""
    if slot_map_version(redis) is None:
        return await ask()
    deadline = time.monotonic() + MOVE_WAIT_SECONDS
    while True:
        seen = _version(redis)
        state = await _asked(redis, ask, probe)
        if isinstance(state, tuple):
            if _version(redis) == seen:
                return state[0]
            state = _State.STALE
        if time.monotonic() > deadline:
            raise BackendUnavailable("the Redis Cluster's slots are moving: try again")
        if state is _State.MOVING:
            await asyncio.sleep(_POLL_SECONDS)
        else:
            await follow_slots(redis, seen)


async def _asked(
    redis: Redis, ask: Callable[[], Awaitable[T]], probe: str | None
) -> tuple[T] | _State:
    """``(answer,)`` when it holds, else what kept it from holding."""
    before: dict[str, tuple[str, bool]] | None = None
    if probe is None:
        before = await _primaries_state(redis)
        if any(moving for _, moving in before.values()):
            return _State.MOVING
    try:
        answer = await ask()
    except ResponseError as exc:
        if "no such index" not in str(exc).lower():
            raise
        return _State.STALE
    if probe is not None:
        state = await _namespace_state(redis, probe)
        return (answer,) if state is _State.STILL else state
    after = await _primaries_state(redis)
    if any(moving for _, moving in after.values()):
        return _State.MOVING
    return (answer,) if after == before else _State.STALE
