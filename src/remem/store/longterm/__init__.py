"""Long-term memory in Redis, in three parts:

``documents``
    ``MemoryDocuments``: one document per memory (create, read, patch, delete, the Lua
    scripts, the WATCH-based modify) and the access-count hash beside them.
``index``
    ``MemoryIndex``: the commands over ``long_term_memory_idx`` (KNN, BM25, counts) and the
    parsing of their answers, with its own RESP2 client.
``cache``
    ``GenerationCache``: filter counts and tag values kept around the index while the
    generation token, which every document write replaces, stays the same.

``LongTermStore`` holds the three, and asks the one question a search starts from
(``candidates``). The store knows documents (dicts), keys and queries, nothing of what a memory
means.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
from redis.asyncio import Redis

from remem.store.keys import Keys
from remem.store.longterm.cache import COUNT_MAX_AGE, COUNTS_KEPT, SIZE_TTL, GenerationCache
from remem.store.longterm.documents import MemoryDocuments
from remem.store.longterm.index import (
    ADHOC_MAX_MATCHES,
    BATCHES_MIN_SELECTIVITY,
    MemoryIndex,
    hybrid_policy,
)
from remem.store.longterm.values import Counts, Facts, Found, Link, Row, Scored, Written
from remem.store.query import Filter

__all__ = [
    "Counts",
    "Facts",
    "Found",
    "GenerationCache",
    "Link",
    "LongTermStore",
    "MemoryDocuments",
    "MemoryIndex",
    "Row",
    "Scored",
    "Written",
    "hybrid_policy",
]


class LongTermStore:
    """The documents, the index and the generation cache of one key prefix."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        index: str,
        *,
        adhoc_max_matches: int = ADHOC_MAX_MATCHES,
        batches_min_selectivity: float = BATCHES_MIN_SELECTIVITY,
        count_max_age: float = COUNT_MAX_AGE,
        counts_kept: int = COUNTS_KEPT,
        size_ttl: float = SIZE_TTL,
    ) -> None:
        self.redis, self.keys = redis, keys
        self.documents = MemoryDocuments(redis, keys, index=index)
        self.index = MemoryIndex(
            redis,
            keys,
            index,
            adhoc_max_matches=adhoc_max_matches,
            batches_min_selectivity=batches_min_selectivity,
        )
        self.cache = GenerationCache(
            redis,
            keys,
            self.index,
            max_age=count_max_age,
            counts_kept=counts_kept,
            size_ttl=size_ttl,
        )

    async def candidates(
        self,
        query: Filter,
        vector: np.ndarray,
        k: int,
        *,
        words: Sequence[str] = (),
        max_distance: float | None = None,
        faint: Collection[str] = (),
    ) -> Found:
        """The count of ``query``, its ``k`` nearest memories to ``vector`` and, given
        ``words``, the BM25 search for them (those in ``faint`` weighted ``query.FAINT``); with
        ``max_distance``, only memories within it and their counts. One round trip while the
        count is kept (see ``GenerationCache``)."""
        return await self.cache.candidates(
            query, vector, k, words=words, max_distance=max_distance, faint=faint
        )

    async def aclose(self) -> None:
        """Close the connections the store opened (its parts' own clients)."""
        await self.index.aclose()
        await self.documents.aclose()
