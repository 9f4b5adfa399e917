"""The generation cache around the long-term index: filter counts, the index's size and tag
values, each kept with the store's generation token.

Counting the memories a filter matches visits each of them (about 50 ns a memory, 5 ms for
100,000), and every search needs that count for its exact total. So counts are kept per
process, each with the generation: a random token (``Keys.long_term_generation``) that every
write through ``MemoryDocuments`` replaces, after the write. A search reads the token in the
same round trip as its KNN and counts again only when the token has changed; a count and the
token it belongs to are read atomically (MULTI). Writes made behind remem's back are seen from
the next remem write, or at the latest when the kept counts are dropped, ``max_age`` seconds
after the first was kept.

On a Redis Cluster each namespace has its own token, in its slot (``lt:generation:{<ns>}``):
the count of a filter scoped to one namespace (``index_cluster.scope_of``) is kept with that
namespace's token, read before and after the count (a MULTI cannot hold a count of the
namespace's primary's index and the token's slot); a later search of that namespace reads the
token (a GET on the primary it asks anyway) instead of counting again; so are the faint-word
counts of such a search (``counts_at``). Counts over several namespaces and tag values are not
kept there.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple, cast

import numpy as np
from redis.asyncio import Redis

from remem.store.connection import translates_errors
from remem.store.keys import Keys
from remem.store.longterm.index import MemoryIndex
from remem.store.longterm.index_cluster import scope_of
from remem.store.longterm.values import Counts, Found, Scored
from remem.store.query import MATCH_ALL, Between, Filter, every


class Kept(NamedTuple):
    generation: str | None


COUNT_MAX_AGE = 60.0  # seconds a kept count or tag value list may go unconfirmed by a write
COUNTS_KEPT = 1024  # filters whose counts are kept; the cache empties past this
SIZE_TTL = 5.0  # seconds the index's size is kept (it only guides how KNN applies a filter)


@translates_errors
class GenerationCache:
    """Counts and tag values of ``index``, kept while the generation token stays the same."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        index: MemoryIndex,
        *,
        max_age: float = COUNT_MAX_AGE,
        counts_kept: int = COUNTS_KEPT,
        size_ttl: float = SIZE_TTL,
    ) -> None:
        self.redis, self.index, self.keys = redis, index, keys
        # On a cluster nothing is kept yet (each namespace has its own token): every count and
        # tag value list is read anew, across the primaries it needs (store.longterm.index).
        self.keeps = not keys.cluster
        self.max_age, self.counts_kept, self.size_ttl = max_age, counts_kept, size_ttl
        self._generation = keys.long_term_generation
        self._size: tuple[int, float] = (0, -size_ttl - 1.0)
        self._counts: dict[Filter, tuple[str | None, int]] = {}  # filter -> (generation, matches)
        self._counted_at = 0.0  # the counts are dropped max_age seconds after this
        # tag field -> (generation, distinct values, when read)
        self._tag_values: dict[str, tuple[str | None, tuple[str, ...], float]] = {}

    # -- counts ----------------------------------------------------------------------------------
    async def counts(self, query: Filter) -> Counts:
        """Memories matching ``query`` (exact), and memories indexed (re-counted at most every
        ``size_ttl`` seconds)."""
        if not self.keeps:
            return await self._sized(query, await self._namespace_count(query))
        cached = self._cached_count(query)
        generation: str | None = None
        if cached is not None:
            generation = cast("str | None", await self.redis.get(self._generation))
        return await self._confirmed(query, cached, generation)

    async def _confirmed(
        self, query: Filter, cached: tuple[str | None, int] | None, generation: str | None
    ) -> Counts:
        """The kept count when ``generation`` is still the one it was counted at, else a new
        count."""
        if cached is not None and generation == cached[0]:
            return await self._sized(query, cached[1])
        return await self._sized(query, await self._count_now(query))

    async def _namespace_count(self, query: Filter) -> int:
        """On a cluster: the count of ``query``, kept with its namespace's token when it is
        scoped to one (see the module)."""
        namespace = scope_of(query)
        if namespace is None:
            return await self.index.count(query)
        token = self.keys.long_term_generation_of(self.keys.memory("", namespace))
        generation = cast("str | None", await self.redis.get(token))
        cached = self._cached_count(query, kept_anyway=True)
        if cached is not None and cached[0] == generation:
            return cached[1]
        matches = await self.index.count(query)
        if await self.redis.get(token) == generation:  # no write came between
            self._keep(query, generation, matches)
        return matches

    def _cached_count(
        self, query: Filter, *, kept_anyway: bool = False
    ) -> tuple[str | None, int] | None:
        if not (self.keeps or kept_anyway):
            return None
        if time.monotonic() - self._counted_at > self.max_age:
            self._counts.clear()  # bounds how long a write behind remem's back goes unseen
        return self._counts.get(query)

    async def _count_now(self, query: Filter) -> int:
        """Count ``query`` and keep the count with the generation it was counted at."""
        async with self.index.flat.pipeline(transaction=True) as pipe:
            pipe.get(self._generation)
            pipe.execute_command(*self.index.count_command(query))
            generation, reply = await pipe.execute()
        return self._keep(query, generation, int(reply[0]))

    def _keep(self, query: Filter, generation: str | None, matches: int) -> int:
        if len(self._counts) >= self.counts_kept:
            self._counts.clear()
        if not self._counts:
            self._counted_at = time.monotonic()
        self._counts[query] = (generation, matches)
        return matches

    def kept(self, queries: Sequence[Filter]) -> list[int | None]:
        """The counts kept for ``queries``, whatever generation they were counted at (None:
        none kept): a guess, to be confirmed with ``counts_at``."""
        return [None if (c := self._cached_count(q)) is None else c[1] for q in queries]

    async def counts_at(self, queries: Sequence[Filter], generation: str | None) -> list[int]:
        """The memories each of ``queries`` matches. ``generation`` is the token a search has
        just read in its own round trip: a count kept at it is still exact and costs nothing;
        the others are counted in one round trip (with the token, atomically) and kept."""
        if not self.keeps:
            return [await self._namespace_count(query) for query in queries]
        found: dict[Filter, int] = {}
        for query in queries:
            cached = self._cached_count(query)
            if cached is not None and cached[0] == generation:
                found[query] = cached[1]
        if missing := [query for query in dict.fromkeys(queries) if query not in found]:
            async with self.index.flat.pipeline(transaction=True) as pipe:
                pipe.get(self._generation)
                for query in missing:
                    pipe.execute_command(*self.index.count_command(query))
                now, *replies = await pipe.execute()
            for query, reply in zip(missing, replies, strict=True):
                found[query] = self._keep(query, now, int(reply[0]))
        return [found[query] for query in queries]

    async def _sized(self, query: Filter, matches: int) -> Counts:
        """``matches`` with the number of memories indexed."""
        if query == MATCH_ALL:
            self._size = (matches, time.monotonic())
        elif time.monotonic() - self._size[1] > self.size_ttl:
            self._size = (await self.index.count(MATCH_ALL), time.monotonic())
        return Counts(matches, max(self._size[0], matches))

    async def any_value(self, field: str, among: Filter | None = None) -> bool:
        """Whether some memory has a value in the NUMERIC ``field`` (a kept count). Where
        nothing is kept (a cluster), some memory ``among`` those a search asks for: a search
        in one namespace then asks its one primary, not every primary."""
        if among is not None and not self.keeps:
            return (await self.counts(every(among, Between(field)))).matches > 0
        return (await self.counts(Between(field))).matches > 0

    def none_kept(self, field: str) -> Kept | None:
        """When no memory had a value in ``field`` by a kept count, the generation it was
        counted at (the answer holds while the token is that one); else None."""
        cached = self._cached_count(Between(field))
        return Kept(cached[0]) if cached is not None and cached[1] == 0 else None

    # -- candidates ------------------------------------------------------------------------------
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
        """Everything a semantic or hybrid search starts from, in one round trip while the
        count of ``query`` is kept (two when it must be counted first): see ``Found``.

        The kept count picks the KNN policy, and the searches go in one pipeline with the
        generation token, which tells whether that count still holds (else it is counted
        again)."""
        if not self.keeps:
            return await self._found(query, vector, k, words, max_distance, faint)
        cached = self._cached_count(query)
        counts: Counts | None = None
        if cached is None:
            counts = guide = await self.counts(query)
        else:
            guide = Counts(cached[1], max(self._size[0], cached[1]))
        index = self.index
        async with index.flat.pipeline(transaction=False) as pipe:
            pipe.get(self._generation)
            pipe.execute_command(*index.knn_command(query, vector, k, max_distance, guide))
            if words:
                pipe.execute_command(*index.keyword_command(query, words, k, faint))
            if max_distance is not None:
                pipe.execute_command(*index.within_command(query, vector, max_distance))
                if words:
                    both = index.keyword_query(query, words)
                    pipe.execute_command(*index.within_command(both, vector, max_distance))
            replies: list[Any] = await pipe.execute()
        if counts is None:
            counts = await self._confirmed(query, cached, replies[0])
        keyword_total, keyword = index.keyword_found(replies[2]) if words else (0, [])
        within = [int(r[0]) for r in replies[3 if words else 2 :]]
        return Found(
            counts,
            index.knn_found(replies[1]),
            keyword_total,
            keyword,
            within=within[0] if within else 0,
            keyword_within=within[1] if len(within) > 1 else 0,
            generation=replies[0],
        )

    async def _found(
        self,
        query: Filter,
        vector: np.ndarray,
        k: int,
        words: Sequence[str],
        max_distance: float | None,
        faint: Collection[str] = (),
    ) -> Found:
        """``candidates`` with nothing kept (a cluster): the count first, then each search,
        each asked of the primaries it needs; no generation token."""
        index, counts = self.index, await self.counts(query)
        nearest = await index.nearest(query, vector, k, max_distance=max_distance, counts=counts)
        keyword_total, keyword = await index.keyword(query, words, k, faint) if words else (0, [])
        within = keyword_within = 0
        if max_distance is not None:
            within = await index.count_within(query, vector, max_distance)
            if words:
                both = index.keyword_query(query, words)
                keyword_within = await index.count_within(both, vector, max_distance)
        return Found(counts, nearest, keyword_total, keyword, within, keyword_within)

    async def keyword(
        self, query: Filter, words: Sequence[str], k: int, faint: Collection[str] = ()
    ) -> tuple[int, list[Scored], str | None]:
        """``MemoryIndex.keyword`` with the generation token read in the same round trip."""
        if not self.keeps:
            return (*await self.index.keyword(query, words, k, faint), None)
        async with self.index.flat.pipeline(transaction=False) as pipe:
            pipe.get(self._generation)
            pipe.execute_command(*self.index.keyword_command(query, words, k, faint))
            generation, reply = await pipe.execute()
        return (*self.index.keyword_found(reply), generation)

    # -- tag values ------------------------------------------------------------------------------
    async def tag_values(self, field: str) -> tuple[str, ...]:
        """The distinct values of a tag field, as indexed; one GET while no write happened."""
        kept = await self.kept_tag_values(field)
        return kept if kept is not None else await self.read_tag_values(field)

    async def read_tag_values(self, field: str) -> tuple[str, ...]:
        """Read a tag field's values now, and keep them with the generation they belong to."""
        if self.index.cluster is not None and not self.keeps:
            return await self.index.cluster.tag_values(field)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(self._generation)
            pipe.execute_command(*self.index.tag_values_command(field))
            generation, values = await pipe.execute()
        found = tuple(str(v) for v in values)
        self._tag_values[field] = (generation, found, time.monotonic())
        return found

    async def kept_tag_values(self, field: str) -> tuple[str, ...] | None:
        """The values ``tag_values`` kept, if still current (None: written since)."""
        kept = self._tag_values.get(field)
        if kept is None or not self.keeps or time.monotonic() - kept[2] > self.max_age:
            return None
        generation = await self.redis.get(self._generation)
        return kept[1] if generation == kept[0] else None
