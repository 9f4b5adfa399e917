"""The long-term memory index (``long_term_memory_idx``): builds KNN, BM25 and count commands
and parses their answers. It owns a RESP2 twin of the store's client (see
``store.connection.flat_twin``) for the hot searches, and closes it.

Every query string that reaches the index is built here or in ``store.query``; the filters the
domain passes are already such strings (``memory.filters`` builds them with ``store.query``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from redis.asyncio import Redis

from remem.store.connection import flat_twin, translates_errors
from remem.store.keys import Keys
from remem.store.longterm.groups_cluster import merged_groups, parse_groups
from remem.store.longterm.index_cluster import ClusterSearches
from remem.store.longterm.layout import vector_bytes
from remem.store.longterm.values import Counts, Row, Scored, number
from remem.store.query import Filter, TagIn, TextAny, conjunction, knn, vector_range

# The engine's own choice of how to combine a filter with KNN was measured slower than either
# explicit policy (10,000 memories, filter matching all: 6.4 ms, against 4.2 ms brute force over
# the matches and 1.2 ms in HNSW batches). Brute force costs in proportion to the matches,
# batches in proportion to 1 / selectivity: see ``hybrid_policy``.
ADHOC_MAX_MATCHES = 2_000
BATCHES_MIN_SELECTIVITY = 0.25

# What ``oldest`` lists: the sortable dates and the tags compaction and forgetting read.
_ROW_FIELDS = (
    "created_at",
    "last_accessed",
    "memory_type",
    "pinned",
    "memory_hash",
    "namespace",
    "user_id",
    "supersedes",  # not indexed: read from the hash (a chain of versions is never broken)
    "superseded_by",
    "namespace_id",  # where the managed API placed it: dedup merges only within a place
    "namespace_label_tag",
)


def hybrid_policy(
    matches: int,
    size: int,
    *,
    adhoc_max_matches: int = ADHOC_MAX_MATCHES,
    batches_min_selectivity: float = BATCHES_MIN_SELECTIVITY,
) -> str:
    """How KNN should meet a filter matching ``matches`` of ``size`` indexed memories: brute
    force over few or a small share of the memories, else HNSW in batches."""
    if matches <= adhoc_max_matches or matches < batches_min_selectivity * size:
        return "ADHOC_BF"
    return "BATCHES"


@translates_errors
class MemoryIndex:
    """Commands over the index, their answers parsed into ``values``."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        name: str,
        *,
        adhoc_max_matches: int = ADHOC_MAX_MATCHES,
        batches_min_selectivity: float = BATCHES_MIN_SELECTIVITY,
    ) -> None:
        self.redis, self.keys, self.name = redis, keys, name
        self.adhoc_max_matches = adhoc_max_matches
        self.batches_min_selectivity = batches_min_selectivity
        self.flat = flat_twin(redis)  # hot FT.SEARCH commands, parsed as RESP2 arrays
        # On a cluster: each primary's copy of the index (store.longterm.index_cluster).
        self.cluster = ClusterSearches(self) if keys.cluster else None

    async def aclose(self) -> None:
        """Close the connections of the RESP2 twin."""
        await self.flat.aclose()

    def _id(self, key: str) -> str:
        return self.keys.parse_memory(key)

    def _vec(self, vector: np.ndarray) -> bytes:
        return vector_bytes(vector)  # the type the index declares

    # -- commands (sent here, or pipelined by the generation cache) ----------------------------
    def count_command(self, query: Filter) -> list[Any]:
        return ["FT.SEARCH", self.name, query.render(), "LIMIT", 0, 0, "DIALECT", 2]

    def tag_values_command(self, field: str) -> list[Any]:
        return ["FT.TAGVALS", self.name, field]

    def knn_command(
        self,
        query: Filter,
        vector: np.ndarray,
        k: int,
        max_distance: float | None = None,
        counts: Counts | None = None,
    ) -> list[Any]:
        """KNN of ``query``'s memories; ``counts`` (of ``query``) picks how the filter
        applies (``hybrid_policy``)."""
        params: list[Any] = ["K", k, "vec", self._vec(vector)]
        where = query.render()
        if max_distance is not None:
            where = conjunction([where, vector_range("embedding")])
            params += ["radius", repr(float(max_distance))]
        policy = None
        if counts is not None:
            policy = hybrid_policy(
                counts.matches,
                counts.size,
                adhoc_max_matches=self.adhoc_max_matches,
                batches_min_selectivity=self.batches_min_selectivity,
            )
        return [
            "FT.SEARCH", self.name, knn(where, "embedding", policy=policy),
            "PARAMS", len(params), *params,
            "SORTBY", "dist", "ASC",
            "RETURN", 1, "dist",
            "LIMIT", 0, k,
            "DIALECT", 2,
        ]  # fmt: skip

    def within_command(self, query: Filter, vector: np.ndarray, max_distance: float) -> list[Any]:
        """Count ``query``'s memories within ``max_distance`` of ``vector``."""
        return [
            "FT.SEARCH", self.name, conjunction([query.render(), vector_range("embedding")]),
            "PARAMS", 4, "radius", repr(float(max_distance)), "vec", self._vec(vector),
            "LIMIT", 0, 0,
            "DIALECT", 2,
        ]  # fmt: skip

    def keyword_command(
        self, query: Filter, words: Sequence[str], k: int, faint: Collection[str] = ()
    ) -> list[Any]:
        # BM25STD is Okapi BM25, the sum over the words a memory holds (Redis 8's default
        # scorer). RediSearch 2.10's legacy BM25 divided that sum by a "slop" growing with the
        # words matched, term offsets or not, so holding all four words of a query scored about
        # as holding one (issue 9).
        return [
            "FT.SEARCH", self.name, self.keyword_query(query, words, faint).render(),
            "WITHSCORES", "SCORER", "BM25STD", "NOCONTENT",
            "LIMIT", 0, k,
            "DIALECT", 2,
        ]  # fmt: skip

    def keyword_query(
        self, query: Filter, words: Sequence[str], faint: Collection[str] = ()
    ) -> Filter:
        return TextAny("search_text", tuple(words), query, frozenset(faint))

    # -- answers -------------------------------------------------------------------------------
    def knn_found(self, reply: list[Any]) -> list[Scored]:
        """Parse ``[total, key, ["dist", d], key, ...]`` (RESP2, ``RETURN 1 dist``)."""
        found = [
            Scored(self._id(key), number(fields[1] if fields else None, 2.0))
            for key, fields in zip(reply[1::2], reply[2::2], strict=True)
        ]
        return sorted(found, key=lambda c: (c.value, c.id))

    def keyword_found(self, reply: list[Any]) -> tuple[int, list[Scored]]:
        """Parse ``[total, key, score, key, score, ...]`` (RESP2, WITHSCORES NOCONTENT)."""
        found = [
            Scored(self._id(key), number(score))
            for key, score in zip(reply[1::2], reply[2::2], strict=True)
        ]
        return int(reply[0]), sorted(found, key=lambda c: (-c.value, c.id))

    # -- searches --------------------------------------------------------------------------------
    async def count(self, query: Filter) -> int:
        if self.cluster:
            return await self.cluster.count(query)
        return int((await self.flat.execute_command(*self.count_command(query)))[0])

    async def nearest(
        self,
        query: Filter,
        vector: np.ndarray,
        k: int,
        *,
        max_distance: float | None = None,
        counts: Counts | None = None,
    ) -> list[Scored]:
        """The ``k`` memories matching ``query`` nearest to ``vector``, nearest first."""
        if self.cluster:
            return await self.cluster.nearest(query, vector, k, max_distance, counts)
        command = self.knn_command(query, vector, k, max_distance, counts)
        return self.knn_found(await self.flat.execute_command(*command))

    async def keyword(
        self, query: Filter, words: Sequence[str], k: int, faint: Collection[str] = ()
    ) -> tuple[int, list[Scored]]:
        """BM25 over ``search_text`` for any of ``words`` (those in ``faint`` weighted
        ``store.query.FAINT``): (exact total, best ``k``)."""
        if self.cluster:
            return await self.cluster.keyword(query, words, k, faint)
        reply = await self.flat.execute_command(*self.keyword_command(query, words, k, faint))
        return self.keyword_found(reply)

    async def count_within(self, query: Filter, vector: np.ndarray, max_distance: float) -> int:
        """How many memories matching ``query`` lie within ``max_distance`` of ``vector``."""
        command = self.within_command(query, vector, max_distance)
        if self.cluster:
            return await self.cluster.count(query, command)
        return int((await self.flat.execute_command(*command))[0])

    async def recent(self, query: Filter, k: int) -> tuple[int, list[Scored]]:
        """Newest first (the keyword search of a query without words): (total, first ``k``),
        each scored by its ``created_at``."""
        if self.cluster:
            return await self.cluster.recent(query, k)
        reply = await self.flat.execute_command(
            "FT.SEARCH", self.name, query.render(),
            "SORTBY", "created_at", "DESC",
            "RETURN", 1, "created_at",
            "LIMIT", 0, k,
            "DIALECT", 2,
        )  # fmt: skip
        found = [
            Scored(self._id(key), number(fields[1] if fields else None))
            for key, fields in zip(reply[1::2], reply[2::2], strict=True)
        ]
        return int(reply[0]), found

    async def holder_of(self, merged_id: str) -> tuple[str, str | None, str | None] | None:
        """The memory that took in ``merged_id`` (its ``merged_ids`` name it) with its
        namespace and user, or None."""
        if self.cluster:
            return await self.cluster.holder_of(TagIn("merged_ids", (merged_id,)))
        reply = await self.flat.execute_command(
            "FT.SEARCH", self.name, TagIn("merged_ids", (merged_id,)).render(),
            "RETURN", 2, "namespace", "user_id",
            "LIMIT", 0, 1,
            "DIALECT", 2,
        )  # fmt: skip
        if not int(reply[0]) or len(reply) < 3:
            return None
        fields = dict(zip(reply[2][::2], reply[2][1::2], strict=True))
        return self._id(reply[1]), fields.get("namespace") or None, fields.get("user_id") or None

    async def oldest(self, query: Filter, limit: int, offset: int = 0) -> list[Row]:
        """Memories matching ``query``, oldest ``created_at`` first."""
        return (await self.oldest_counted(query, limit, offset))[1]

    async def oldest_counted(
        self, query: Filter, limit: int, offset: int = 0
    ) -> tuple[int, list[Row]]:
        """How many memories match ``query``, and ``limit`` of them, oldest first."""
        if self.cluster:
            return await self.cluster.oldest_counted(query, limit, offset)
        reply = await self.flat.execute_command(
            "FT.SEARCH", self.name, query.render(),
            "SORTBY", "created_at", "ASC",
            "RETURN", len(_ROW_FIELDS), *_ROW_FIELDS,
            "LIMIT", offset, limit,
            "DIALECT", 2,
        )  # fmt: skip
        rows = []
        for key, fields in zip(reply[1::2], reply[2::2], strict=True):
            a = dict(zip(fields[::2], fields[1::2], strict=True))
            rows.append(
                Row(
                    id=self._id(key),
                    created_at=number(a.get("created_at")),
                    last_accessed=number(a.get("last_accessed")),
                    memory_type=str(a.get("memory_type", "")),
                    pinned=a.get("pinned") in ("1", "true"),
                    memory_hash=str(a.get("memory_hash", "")),
                    namespace=a.get("namespace") or None,
                    user_id=a.get("user_id") or None,
                    linked=bool(a.get("supersedes") or a.get("superseded_by")),
                    place=(a.get("namespace_id") or "", a.get("namespace_label_tag") or ""),
                )
            )
        return int(reply[0]), rows

    async def groups(
        self, query: Filter, fields: Sequence[str], limit: int
    ) -> list[tuple[dict[str, str], int]]:
        """The distinct combinations of the TAG ``fields`` among ``query``'s memories, with how
        many memories hold each, in value order; at most ``limit``. One FT.AGGREGATE (on a
        cluster one a primary, merged: ``groups_cluster``). A memory lacking one of the fields
        is counted under an empty group value, which the caller filters out (``HasValue``)
        when it wants none."""
        if not fields:
            return [({}, await self.count(query))]
        if self.cluster:
            return await merged_groups(self.cluster, query, fields, limit)
        reply = await self.flat.execute_command(*self.groups_command(query, fields, limit))
        return parse_groups(reply, fields)

    def groups_command(self, query: Filter, fields: Sequence[str], limit: int) -> list[Any]:
        return [
            "FT.AGGREGATE", self.name, query.render(),
            "GROUPBY", len(fields), *(f"@{f}" for f in fields),
            "REDUCE", "COUNT", 0, "AS", "__count",
            "SORTBY", 2 * len(fields), *(x for f in fields for x in (f"@{f}", "ASC")),
            "MAX", limit,
            "DIALECT", 2,
        ]  # fmt: skip
