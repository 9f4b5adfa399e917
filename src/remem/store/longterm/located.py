"""Where long-term memories are on a Redis Cluster: their keys found by id.

On a cluster a memory is keyed in its namespace's slot (``Keys.memory``: ``mem:{<ns>}:<id>``),
so its id alone no longer names its key. A read by id without the namespace asks every
primary's index for the id (a TAG lookup, ``NOCONTENT``: a primary's index gives the keys of
every document it holds, whatever their slot, though it loads fields only of its own name's
slot) and reads the keys found, routed to their slots. Given the namespace, only the primary
holding its slot is asked. Two namespaces may hold one id on a cluster: every key found is
returned, and the caller keeps the ones it may see.

A memory written since the index last looked is found once the index has it (the Query
Engine indexes a HASH write before answering the next command on that primary).

A search already holds its hits' keys (the engine answers with keys): inside
``remembering_found_keys`` (around one search request: its ranking and the reads of its hits)
the cluster searches note every memory key they are given (``note_found``), and a read by id
there takes an id's key from them (``found_keys``) instead of asking every primary again. The
key is the copy the search found, so the reads are of the hit the search ranked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar

from redis.asyncio import Redis

from remem.store.fanout import alias_for, aliases
from remem.store.keys import Keys
from remem.store.moving import namespace_probe, settled
from remem.store.query import TagIn

PAGE = 1000  # keys a primary answers at a time; more are asked for in further pages
# id -> the keys this request's searches were given for it (None: not inside a search)
_FOUND: ContextVar[dict[str, set[str]] | None] = ContextVar("remem_found_keys", default=None)


@contextlib.contextmanager
def remembering_found_keys() -> Iterator[None]:
    """Within: the memory keys the cluster searches are given are kept for reads by id."""
    token = _FOUND.set({})
    try:
        yield
    finally:
        _FOUND.reset(token)


def note_found(keys: Keys, reply: Iterable[object]) -> None:
    """Keep the memory keys among a search reply's top-level values (a RESP2 ``FT.SEARCH``
    answer: the total, then each key followed by its fields, score or sort key)."""
    found = _FOUND.get()
    if found is None:
        return
    for value in reply:
        if isinstance(value, str) and value.startswith(keys.memory_prefix):
            found.setdefault(keys.parse_memory(value), set()).add(value)


def found_keys(ids: Sequence[str]) -> dict[str, list[str]]:
    """The keys this request's searches were given for those of ``ids`` they found."""
    found = _FOUND.get() or {}
    return {memory_id: sorted(found[memory_id]) for memory_id in ids if memory_id in found}


async def keys_by_id(
    redis: Redis, keys: Keys, alias: str, ids: Sequence[str], namespace: str | None = None
) -> dict[str, list[str]]:
    """Memory id -> the keys holding it (sorted; none: not found), of ``ids``: from the
    primary holding ``namespace`` when one is given (only that namespace's keys are kept),
    else from every primary's ``alias``. A key is kept only when the id its name holds is one
    asked for (the index's ``id`` field is what was written, the key's name is the truth)."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, list[str]] = {memory_id: [] for memory_id in wanted}
    if not wanted:
        return found
    query = TagIn("id", tuple(wanted)).render()
    prefix = keys.memory("", namespace) if namespace else None  # mem:{<ns>}:

    async def ask() -> list[str]:
        names = [alias_for(redis, alias, namespace)] if namespace else aliases(redis, alias)
        return [key for name in names for key in await _all_keys(redis, name, query)]

    probe = namespace_probe(namespace) if namespace else None
    for key in await settled(redis, ask, probe):
        memory_id = keys.parse_memory(key)
        if memory_id in found and (prefix is None or key.startswith(prefix)):
            found[memory_id].append(key)
    return {memory_id: sorted(held) for memory_id, held in found.items()}


async def _all_keys(redis: Redis, name: str, query: str) -> list[str]:
    """Every key ``query`` matches in the index ``name``, ``PAGE`` at a time."""
    out: list[str] = []
    while True:
        reply = await redis.execute_command(
            "FT.SEARCH", name, query, "NOCONTENT", "LIMIT", len(out), PAGE, "DIALECT", 2
        )  # fmt: skip
        rows = [str(row["id"]) for row in reply["results"]]
        out += rows
        if not rows or len(out) >= int(reply["total_results"]):
            return out
