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
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from remem.store.fanout import alias_for, aliases
from remem.store.keys import Keys
from remem.store.moving import namespace_probe, settled
from remem.store.query import TagIn

PAGE = 1000  # keys a primary answers at a time; more are asked for in further pages


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
