"""The namespaces that hold anything, with their counts: one ``FT.AGGREGATE ... GROUPBY
@namespace REDUCE COUNT 0`` per index (working memory, long-term memory), sent together in one
round trip. Records without a namespace form no group. A caller's scope (its namespaces, its user)
is asked of the engine, every value written by the escaper (``store.query``). On a Redis Cluster
every primary's copy of each index is asked, and the counts added up."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from remem.store.connection import is_cluster, translates_errors
from remem.store.fanout import aliases
from remem.store.moving import settled
from remem.store.query import conjunction, is_prefix, numeric_not, tag_equals, tag_patterns


@dataclass(frozen=True, slots=True)
class NamespaceCounts:
    """One namespace: its live sessions and its long-term memories."""

    name: str
    sessions: int = 0
    memories: int = 0


def _groups(reply: Any) -> dict[str, int]:
    """namespace -> count from an ``FT.AGGREGATE`` reply (RESP3 map or RESP2 array)."""
    rows: list[dict[str, Any]] = []
    if isinstance(reply, dict):  # RESP3
        for result in reply.get("results", []):
            rows.append(result.get("extra_attributes", {}))
    else:  # RESP2: [total, [k, v, k, v], ...]
        for row in reply[1:]:
            rows.append(dict(zip(row[::2], row[1::2], strict=False)))
    out: dict[str, int] = {}
    for row in rows:
        name, count = row.get("namespace"), row.get("count")
        if name is None or name == "" or count is None:
            continue  # no namespace: no group
        out[str(name)] = out.get(str(name), 0) + int(count)
    return out


def _summed(replies: Sequence[Any]) -> dict[str, int]:
    """namespace -> count over several primaries' replies (each counts its own records)."""
    out: dict[str, int] = {}
    for reply in replies:
        for name, count in _groups(reply).items():
            out[name] = out.get(name, 0) + count
    return out


def _aggregate(index: str, query: str) -> list[Any]:
    return [
        "FT.AGGREGATE", index, query,
        "GROUPBY", "1", "@namespace", "REDUCE", "COUNT", "0", "AS", "count",
        "DIALECT", "2",
    ]  # fmt: skip


@translates_errors
@dataclass
class Namespaces:
    """Counts per namespace over the working-memory and long-term indexes."""

    redis: Redis
    working_index: str
    long_term_index: str

    async def counts(
        self, user_id: str | None = None, namespaces: Sequence[str] | None = None
    ) -> list[NamespaceCounts]:
        """Every namespace with a live session or a memory (of ``user_id`` only, when given),
        sorted by name; with ``namespaces`` (exact names, prefixes ending in ``*``: a caller's
        scope), only those, asked of the engine. A session past its expiry that Redis has not
        reclaimed yet (up to about half a second) is not counted."""
        scope = ""
        if namespaces is not None:
            values = await self._values() if any(map(is_prefix, namespaces)) else ()
            found = tag_patterns("namespace", namespaces, values)
            if found is None:
                return []
            scope = found
        user = tag_equals("user_id", user_id) if user_id is not None else ""
        alive = numeric_not("expires_at", None, time.time())
        working = conjunction([alive, scope, user])
        counted = await settled(
            self.redis, lambda: self._count(working, conjunction([scope, user]))
        )
        per_session, per_memory = counted
        names = sorted(set(per_session) | set(per_memory))
        return [
            NamespaceCounts(name, per_session.get(name, 0), per_memory.get(name, 0))
            for name in names
        ]

    async def _count(self, working: str, long_term: str) -> tuple[dict[str, int], dict[str, int]]:
        """Sessions and memories per namespace: (working-memory counts, long-term counts)."""
        sessions = self._everywhere(self.working_index)
        async with self.redis.pipeline(transaction=False) as pipe:
            for index in sessions:
                pipe.execute_command(*_aggregate(index, working))
            for index in self._everywhere(self.long_term_index):
                pipe.execute_command(*_aggregate(index, long_term))
            replies = await pipe.execute()
        return _summed(replies[: len(sessions)]), _summed(replies[len(sessions) :])

    def _everywhere(self, index: str) -> list[str]:
        """The index, or on a cluster its alias on every primary (``store.fanout``)."""
        return aliases(self.redis, index) if is_cluster(self.redis) else [index]

    async def _values(self) -> set[str]:
        """Every namespace either index holds (``FT.TAGVALS`` of each, one round trip)."""
        return await settled(self.redis, self._tag_values)

    async def _tag_values(self) -> set[str]:
        everywhere = [
            *self._everywhere(self.working_index),
            *self._everywhere(self.long_term_index),
        ]
        async with self.redis.pipeline(transaction=False) as pipe:
            for index in everywhere:
                pipe.execute_command("FT.TAGVALS", index, "namespace")
            replies = await pipe.execute()
        return {v.decode() if isinstance(v, bytes) else str(v) for r in replies for v in r}
