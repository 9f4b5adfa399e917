"""The reads of ``store.owned`` on a Redis Cluster (``Keys(cluster=True)``).

A primary's index lists every key it holds but loads fields only of documents in its own name's
slot (docs/architecture.md, "What a primary's index can give"), so nothing here asks the engine
for a field: keys come from ``FT.SEARCH ... NOCONTENT`` (with ``WITHSORTKEYS`` where an order is
needed) on the primary holding the scope's namespace, or on every primary for a user's data,
and documents are read by key, each command routed to its own slot (no ``JSON.MGET`` across
slots).

An export's memory ids are paged by their ``created_at`` (SORTABLE) and key, from where the last
page stopped, instead of ``FT.AGGREGATE``'s cursor (``LOAD @__key`` gives nothing for another
slot's document): a page asks each primary for what is at or after the last ``created_at``,
skipping the keys already given at that very value, so a memory written or deleted meanwhile
shifts no page; one written meanwhile with an older ``created_at`` (an import keeps its date) is
not in the export, as one written after the export would not be.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from remem.store.fanout import alias_for, aliases, keys_everywhere, sorted_everywhere
from remem.store.moving import namespace_probe, settled
from remem.store.query import conjunction


def names(redis: Redis, index: str, namespace: str | None) -> list[str]:
    """The alias on the primary holding ``namespace``, or on every primary."""
    return [alias_for(redis, index, namespace)] if namespace else aliases(redis, index)


async def first_keys(
    redis: Redis, index: str, query: str, namespace: str | None, page: int
) -> list[str]:
    """At most ``page`` keys matching ``query`` (an erase's round)."""
    return await keys_everywhere(redis, index, query, namespace, page)


async def session_documents(
    redis: Redis, index: str, query: str, offset: int, page: int
) -> list[tuple[str, dict[str, Any]]]:
    """A page of sessions from ``offset``, oldest first (merged from every primary), each read
    with its own ``JSON.GET``: (key, document); none for one gone since the search."""
    _, keys = await sorted_everywhere(
        redis, index, query, sort_by="created_at", descending=False, offset=offset, limit=page
    )
    if not keys:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.execute_command("JSON.GET", key, "$")
        raws = await pipe.execute()
    out = []
    for key, raw in zip(keys, raws, strict=True):
        if raw:
            (doc,) = json.loads(raw)
            out.append((key, doc))
    return out


async def memory_keys(
    redis: Redis, index: str, query: str, namespace: str | None, page: int
) -> AsyncIterator[list[str]]:
    """The keys of ``query``'s memories, ``page`` at a time, by (``created_at``, key) from
    where the last page stopped (see the module)."""
    last: float | None = None
    given_at_last: set[str] = set()
    while True:
        where = query if last is None else conjunction([query, f"@created_at:[{last!r} +inf]"])
        ask = functools.partial(
            _sorted_rows, redis, index, namespace, where, page + len(given_at_last)
        )
        rows = await settled(redis, ask, namespace_probe(namespace) if namespace else None)
        rows = [(value, key) for value, key in rows if key not in given_at_last][:page]
        if not rows:
            return
        yield [key for _, key in rows]
        top = rows[-1][0]
        given_at_last = (given_at_last if top == last else set()) | {
            key for value, key in rows if value == top
        }
        last = top


async def _sorted_rows(
    redis: Redis, index: str, namespace: str | None, query: str, limit: int
) -> list[tuple[float, str]]:
    """The first ``limit`` (created_at, key) of ``query`` over the aliases of ``index`` that
    hold ``namespace`` (every primary's without one), in that order."""
    async with redis.pipeline(transaction=False) as pipe:
        for name in names(redis, index, namespace):
            pipe.execute_command(
                "FT.SEARCH", name, query, "NOCONTENT", "WITHSORTKEYS",
                "SORTBY", "created_at", "ASC", "LIMIT", 0, limit, "DIALECT", 2,
            )  # fmt: skip
        replies = await pipe.execute()
    rows = []
    for reply in replies:
        for result in reply["results"]:
            value = result.get("sortkey")  # "#<number>"; none without a created_at
            rows.append((float(value[1:]) if value else float("-inf"), str(result["id"])))
    rows.sort()
    return rows[:limit]


async def count(redis: Redis, index: str, query: str, namespace: str | None) -> int:
    """How many documents match ``query``, summed over the primaries asked."""

    async def ask() -> int:
        async with redis.pipeline(transaction=False) as pipe:
            for name in names(redis, index, namespace):
                pipe.execute_command("FT.SEARCH", name, query, "LIMIT", 0, 0, "DIALECT", 2)
            replies = await pipe.execute()
        return sum(int(reply["total_results"]) for reply in replies)

    return await settled(redis, ask, namespace_probe(namespace) if namespace else None)
