"""Searches on a Redis Cluster without a coordinator: to one primary, or to all and merged.

Every primary has its own copy of an index and its alias, named into one of its slots
(``schema.ensure_on_every_primary``), and each indexes only its own keys. So:

- a search scoped to one namespace goes to the alias on the primary holding that namespace's
  slot (``alias_for``): every key of the namespace carries its hash tag, so that index holds all
  of them, and the answer is what a single Redis would give;
- anything else (no namespace, several namespaces, a prefix of them) asks every primary
  (``sorted_everywhere``) for the first ``offset + limit`` results in the requested order, and
  merges them: the page is the ``offset``-th to the ``offset + limit``-th of the merged list,
  the total the sum of the primaries' totals. A deep page costs each primary the page's depth,
  as on one Redis.

Order: by the sort field, then by key, so a merged page does not depend on which primary
answered first. Within one primary the engine orders equal values its own way; when values tie
across a page's edge on two primaries, the cut may take a different one of the tied keys than
a single Redis would (never a key twice, never one missing from the union of the pages).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from remem.errors import BackendUnavailable
from remem.store.connection import slot_map_version
from remem.store.keys import encode_part
from remem.store.slots import key_slot, primary_tags

T = TypeVar("T")
SETTLE_TRIES = 4


def alias_for(redis: Redis, alias: str, namespace: str) -> str:
    """The alias, on the primary holding ``namespace``'s slot, of the index ``alias``: the
    index holding every key tagged with the namespace (a percent-encoded part, as in
    ``Keys``). Keys without a namespace have an empty tag, so Redis hashes each whole key and
    they spread over every primary: a search of them asks every primary."""
    node = redis.nodes_manager.get_node_from_slot(  # type: ignore[attr-defined]
        key_slot(f"{{{encode_part(namespace)}}}")
    )
    return f"{alias}:{{{primary_tags(redis)[node.name]}}}"


def namespace_probe(namespace: str) -> str:
    """A key in ``namespace``'s slot that no one writes: asking for it tells whether the slot
    map still places the namespace right (a node that gave the slot away answers ``MOVED``)."""
    return f"{{{encode_part(namespace)}}}:probe"


def _version(redis: Redis) -> int:
    return slot_map_version(redis) or 0


async def follow_slots(redis: Redis, seen: int) -> None:
    """Read the slot map anew and give every primary the indexes this process uses under the
    names the map now gives them (``Cluster.reensure``), unless another search did since the
    map was at version ``seen``."""
    async with redis.following:  # type: ignore[attr-defined]
        if redis.followed > seen:  # type: ignore[attr-defined]
            return  # another search did, since
        await redis.nodes_manager.initialize()  # type: ignore[attr-defined]
        for ensure in list(redis.reensure.values()):  # type: ignore[attr-defined]
            await ensure()
        redis.followed = _version(redis)  # type: ignore[attr-defined]


async def settled(redis: Redis, ask: Callable[[], Awaitable[T]], probe: str | None = None) -> T:
    """``ask()``'s answer, given while the slot map stood still (no redirection met, so every
    index asked was where the map said), on a cluster whose slots may move. When the map
    changed meanwhile, or a primary lacked the index the map names (a slot moved), the map is
    read anew, the indexes ensured (``follow_slots``) and the question asked again. ``probe``:
    a key of the slot a search relies on (``namespace_probe``), asked first, so that a moved
    namespace is noticed even when its index's name did not move. Past a few tries, the slots
    are still moving: ``BackendUnavailable`` (a 503), never a partial answer. A single Redis
    is just asked."""
    if slot_map_version(redis) is None:
        return await ask()
    for _ in range(SETTLE_TRIES):
        seen = _version(redis)
        try:
            if probe is not None:
                await redis.exists(probe)
            answer = await ask()
        except ResponseError as exc:
            if "no such index" not in str(exc).lower():
                raise
        else:
            if _version(redis) == seen:
                return answer
        await follow_slots(redis, seen)
    raise BackendUnavailable("the Redis Cluster's slots are moving: try again")


def aliases(redis: Redis, alias: str) -> list[str]:
    """The alias on every primary."""
    return [f"{alias}:{{{tag}}}" for tag in primary_tags(redis).values()]


async def sorted_everywhere(
    redis: Redis,
    alias: str,
    query: str,
    *,
    sort_by: str,
    descending: bool,
    offset: int,
    limit: int,
    params: Sequence[Any] = (),
) -> tuple[int, list[str]]:
    """(total, keys of the page) of ``query`` over every primary's ``alias``, sorted by the
    NUMERIC SORTABLE field ``sort_by`` (each primary's sort keys, ``WITHSORTKEYS``, merged; a
    document without a value last when descending, first when ascending; see the module for
    ties)."""
    return await settled(
        redis,
        lambda: _sorted_everywhere(redis, alias, query, sort_by, descending, offset, limit, params),
    )


async def _sorted_everywhere(
    redis: Redis,
    alias: str,
    query: str,
    sort_by: str,
    descending: bool,
    offset: int,
    limit: int,
    params: Sequence[Any],
) -> tuple[int, list[str]]:
    rows: list[tuple[float, str]] = []
    total = 0
    direction = "DESC" if descending else "ASC"
    async with redis.pipeline(transaction=False) as pipe:
        for name in aliases(redis, alias):
            pipe.execute_command(
                "FT.SEARCH", name, query, "NOCONTENT", "WITHSORTKEYS", "SORTBY", sort_by,
                direction, "LIMIT", 0, offset + limit, *params, "DIALECT", 2,
            )  # fmt: skip
        replies = await pipe.execute()
    for reply in replies:
        total += int(reply["total_results"])
        for result in reply["results"]:
            value = result.get("sortkey")  # "#<number>"; none for a document without one
            rows.append((float(value[1:]) if value else float("-inf"), result["id"]))
    rows.sort(key=lambda row: (-row[0] if descending else row[0], row[1]))
    return total, [key for _, key in rows[offset : offset + limit]]


async def keys_everywhere(
    redis: Redis, alias: str, query: str, namespace: str | None, limit: int
) -> list[str]:
    """At most ``limit`` keys matching ``query``, unordered: from the primary holding
    ``namespace`` when one is given, else from every primary."""

    async def ask() -> list[str]:
        names = [alias_for(redis, alias, namespace)] if namespace else aliases(redis, alias)
        async with redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.execute_command(
                    "FT.SEARCH", name, query, "NOCONTENT", "LIMIT", 0, limit, "DIALECT", 2
                )
            replies = await pipe.execute()
        return [row["id"] for reply in replies for row in reply["results"]][:limit]

    return await settled(redis, ask, namespace_probe(namespace) if namespace else None)
