"""The long-term index's searches on a Redis Cluster (``Keys(cluster=True)``).

Every primary has its copy of the index under the alias ``<index>:{<tag>}`` and indexes only its
own memories (``store.fanout``). A search whose filter names one namespace (``scope_of``) goes
to the primary holding that namespace's slot, which holds every memory of it: its answer is a
single Redis's. Any other search asks every primary and merges: counts and totals add up, KNN
takes the ``k`` nearest of the primaries' ``k`` nearest (by distance, then id), a newest-first
or oldest-first page the first of the merged sort keys. A keyword search finds the same
memories and total as a single Redis, but BM25 scores come from each primary's own statistics
(document frequencies and lengths over every memory that primary holds, measured on the test
cluster: other scores than a single Redis's even within one namespace), so its ranks may differ.

A primary returns no field of a memory outside its own name's slot (docs/architecture.md, "What
a primary's index can give"): only keys, KNN distances, scores and sort keys are asked of the
engine here, and a row's fields are read from the memory's key (routed to its slot).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from remem.store.fanout import alias_for, aliases
from remem.store.longterm.located import note_found
from remem.store.longterm.values import Counts, Row, Scored, number
from remem.store.moving import namespace_probe, settled
from remem.store.query import AllOf, Filter, TagIn, TextAny

if TYPE_CHECKING:
    from remem.store.longterm.index import MemoryIndex

_ROW_FIELDS = (  # as index.py's rows, read from each memory's key
    "created_at", "last_accessed", "memory_type", "pinned", "memory_hash",
    "namespace", "user_id", "supersedes", "superseded_by", "namespace_id", "namespace_label_tag",
)  # fmt: skip


def scope_of(query: Filter) -> str | None:
    """The one namespace every memory ``query`` matches has, when its top level says so (a
    namespace equality, alone or ANDed with other conditions); else None."""
    if isinstance(query, TextAny):
        return scope_of(query.where)
    for part in query.parts if isinstance(query, AllOf) else (query,):
        if isinstance(part, TagIn) and part.field == "namespace" and len(part.values) == 1:
            return part.values[0]
    return None


class ClusterSearches:
    """``MemoryIndex``'s searches over the primaries (see the module); its commands and
    parsers, with the index name replaced by each primary's alias."""

    def __init__(self, index: MemoryIndex) -> None:
        self.index = index
        self.flat = index.flat

    def names(self, query: Filter) -> list[str]:
        """The aliases ``query`` is asked of, as the store's client (started by
        ``open_redis``) knows the slots."""
        redis, namespace = self.index.redis, scope_of(query)
        if namespace is not None:
            return [alias_for(redis, self.index.name, namespace)]
        return aliases(redis, self.index.name)

    async def each(self, query: Filter, command: list[Any]) -> list[Any]:
        """``command`` (its index name replaced) sent to the primaries ``query`` needs, once
        no slot move can have touched the answer (``store.moving.settled``)."""

        async def ask() -> list[Any]:
            async with self.flat.pipeline(transaction=False) as pipe:
                for name in self.names(query):
                    pipe.execute_command(command[0], name, *command[2:])
                return list(await pipe.execute())

        namespace = scope_of(query)
        probe = namespace_probe(namespace) if namespace is not None else None
        replies = await settled(self.index.redis, ask, probe, via=self.flat)
        for reply in replies:
            if isinstance(reply, list):
                note_found(self.index.keys, reply)  # for the reads of this search's hits
        return replies

    async def count(self, query: Filter, command: list[Any] | None = None) -> int:
        replies = await self.each(query, command or self.index.count_command(query))
        return sum(int(reply[0]) for reply in replies)

    async def nearest(
        self, query: Filter, vector: np.ndarray, k: int, max_distance: float | None,
        counts: Counts | None,
    ) -> list[Scored]:  # fmt: skip
        command = self.index.knn_command(query, vector, k, max_distance, counts)
        found = [
            s for reply in await self.each(query, command) for s in self.index.knn_found(reply)
        ]
        return sorted(found, key=lambda s: (s.value, s.id))[:k]

    async def keyword(
        self, query: Filter, words: Sequence[str], k: int, faint: Collection[str] = ()
    ) -> tuple[int, list[Scored]]:
        replies = await self.each(query, self.index.keyword_command(query, words, k, faint))
        parsed = [self.index.keyword_found(reply) for reply in replies]
        found = sorted((s for _, page in parsed for s in page), key=lambda s: (-s.value, s.id))
        return sum(total for total, _ in parsed), found[:k]

    async def sorted_keys(
        self, query: Filter, descending: bool, offset: int, limit: int
    ) -> tuple[int, list[tuple[float, str]]]:
        """(total, the page's (created_at, key)) of ``query`` merged by ``created_at`` then
        key."""
        command = [
            "FT.SEARCH", "", query.render(), "NOCONTENT", "WITHSORTKEYS",
            "SORTBY", "created_at", "DESC" if descending else "ASC",
            "LIMIT", 0, offset + limit, "DIALECT", 2,
        ]  # fmt: skip
        total, rows = 0, []
        for reply in await self.each(query, command):
            total += int(reply[0])
            for key, sort_key in zip(reply[1::2], reply[2::2], strict=True):
                rows.append((float(sort_key[1:]) if sort_key else float("-inf"), str(key)))
        rows.sort(key=lambda row: (-row[0] if descending else row[0], row[1]))
        return total, rows[offset : offset + limit]

    async def recent(self, query: Filter, k: int) -> tuple[int, list[Scored]]:
        total, rows = await self.sorted_keys(query, True, 0, k)
        return total, [Scored(self.index.keys.parse_memory(key), at) for at, key in rows]

    async def oldest_counted(self, query: Filter, limit: int, offset: int) -> tuple[int, list[Row]]:
        total, rows = await self.sorted_keys(query, False, offset, limit)
        async with self.flat.pipeline(transaction=False) as pipe:
            for _, key in rows:
                pipe.hmget(key, _ROW_FIELDS)
            values = await pipe.execute()
        out = []
        for (_, key), found in zip(rows, values, strict=True):
            if not any(v is not None for v in found):
                continue  # deleted since the search
            a = dict(zip(_ROW_FIELDS, found, strict=True))
            out.append(
                Row(
                    id=self.index.keys.parse_memory(key),
                    created_at=number(a["created_at"]),
                    last_accessed=number(a["last_accessed"]),
                    memory_type=str(a["memory_type"] or ""),
                    pinned=a["pinned"] in ("1", "true"),
                    memory_hash=str(a["memory_hash"] or ""),
                    namespace=a["namespace"] or None,
                    user_id=a["user_id"] or None,
                    linked=bool(a["supersedes"] or a["superseded_by"]),
                    place=(a["namespace_id"] or "", a["namespace_label_tag"] or ""),
                )
            )
        return total, out

    async def tag_values(self, field: str) -> tuple[str, ...]:
        """The distinct values of a TAG field over every primary (sorted)."""

        async def ask() -> list[Any]:
            async with self.flat.pipeline(transaction=False) as pipe:
                for name in aliases(self.index.redis, self.index.name):
                    pipe.execute_command("FT.TAGVALS", name, field)
                return list(await pipe.execute())

        replies = await settled(self.index.redis, ask, via=self.flat)
        return tuple(sorted({str(value) for reply in replies for value in reply}))

    async def holder_of(self, query: Filter) -> tuple[str, str | None, str | None] | None:
        """The first key (in key order) of ``query`` over every primary, with its namespace
        and user read from it."""
        command = ["FT.SEARCH", "", query.render(), "NOCONTENT", "LIMIT", 0, 1, "DIALECT", 2]
        keys = sorted(str(key) for reply in await self.each(query, command) for key in reply[1:2])
        for key in keys:
            namespace, user_id = await self.flat.hmget(key, ["namespace", "user_id"])
            if namespace is not None or user_id is not None or await self.flat.exists(key):
                owner = (str(namespace) if namespace else None, str(user_id) if user_id else None)
                return self.index.keys.parse_memory(key), *owner
        return None
