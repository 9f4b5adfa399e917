"""Searches on a Redis Cluster without a coordinator: to one primary, or to all and merged.
(With a coordinator, ``alias_for`` and ``aliases`` name the one index that spans the cluster,
which any node answers for all: every question below is then asked once.)

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

While slots move, each of these answers is given only once no move can have touched it
(``store.moving.settled``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from remem.store.coordinator import coordinated
from remem.store.keys import encode_part
from remem.store.moving import namespace_probe, settled
from remem.store.slots import COORDINATED_TAG, key_slot, primary_tags


def alias_for(redis: Redis, alias: str, namespace: str) -> str:
    """The alias, on the primary holding ``namespace``'s slot, of the index ``alias``: the
    index holding every key tagged with the namespace (a percent-encoded part, as in
    ``Keys``). Keys without a namespace have an empty tag, so Redis hashes each whole key and
    they spread over every primary: a search of them asks every primary. With a coordinator
    (``coordinator.coordinated``) the one index over the cluster."""
    if coordinated(redis):
        return f"{alias}:{{{COORDINATED_TAG}}}"
    node = redis.nodes_manager.get_node_from_slot(  # type: ignore[attr-defined]
        key_slot(f"{{{encode_part(namespace)}}}")
    )
    return f"{alias}:{{{primary_tags(redis)[node.name]}}}"


def aliases(redis: Redis, alias: str) -> list[str]:
    """The alias on every primary; with a coordinator, the one index that spans them."""
    if coordinated(redis):
        return [f"{alias}:{{{COORDINATED_TAG}}}"]
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
