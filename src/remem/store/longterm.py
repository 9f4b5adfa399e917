"""Long-term memory documents in Redis: one JSON document per memory, searched through
``long_term_memory_idx`` (see ``store.schema.long_term_memory_index``).

The store knows documents (dicts), keys and queries, nothing of what a memory means. Writes are
atomic on the server: an upsert keeps the document's first ``created_at`` (Lua); a
read-modify-write runs under WATCH and retries; access counts are added by a Lua script that
never recreates a deleted memory.

Counting the memories a filter matches visits each of them (about 50 ns a memory, 5 ms for
100,000), and every search needs that count for its exact total. So counts are kept per process,
each with the store's generation: a random token (``<prefix>lt:generation``) that every write
through this class replaces, after the write. A search reads the token in the same round trip as
its KNN and counts again only when the token has changed; a count and the token it belongs to
are read atomically (MULTI). Writes made behind remem's back are seen from the next remem write,
or at the latest when the kept counts are dropped, ``COUNT_MAX_AGE`` seconds after the first.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import numpy as np
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from remem.store.connection import backend_errors, flat_twin
from remem.store.keys import Keys
from remem.store.query import conjunction, knn, tag_any, text_any_where, vector_range

# KEYS[1]: the memory; ARGV[1]: its document; ARGV[2], ARGV[3]: its namespace and user_id, each
# '' for none or '=' and the value. A document owned by another (namespace, user_id) is left alone
# ({0}): checked here, atomically with the write, so that concurrent creators of one id cannot
# take it over. Else the document is written, keeping a stored created_at ({1, created_at}, or
# {1} for a new memory).
_UPSERT = """
local owner = redis.call('JSON.GET', KEYS[1], '$.namespace', '$.user_id')
if owner then
  local found = cjson.decode(owner)
  local function tag(values)
    local v = values and values[1]
    if v == nil or v == cjson.null then return '' end
    if type(v) ~= 'string' then return '?' end
    return '=' .. v
  end
  if tag(found['$.namespace']) ~= ARGV[2] or tag(found['$.user_id']) ~= ARGV[3] then
    return {0}
  end
end
local old = redis.call('JSON.GET', KEYS[1], '$.created_at')
redis.call('JSON.SET', KEYS[1], '$', ARGV[1])
if old and old ~= '[]' and old ~= '[null]' then
  redis.call('JSON.SET', KEYS[1], '$.created_at', string.sub(old, 2, -2))
  return {1, string.sub(old, 2, -2)}
end
return {1}
"""

# A search hit must not rewrite its memory: any JSON write re-indexes the whole document, vector
# included (0.5 ms at 10,000 memories, about 1 ms at 100,000), where a hash field costs 10 us. So
# hits are added to a hash beside the documents (a record's access_count is its document's plus
# the hash's) and last_accessed, which filters and ranking read from the index, is written only
# when it moves by at least ARGV[2] seconds. One key a script, so that it runs on any shard:
# 0 = no such memory, 1 = left alone, 2 = last_accessed written.
_TOUCH = """
local raw = redis.call('JSON.GET', KEYS[1], '$.last_accessed')
if not raw then return 0 end
local last = tonumber((cjson.decode(raw))[1])
if last and tonumber(ARGV[1]) - last < tonumber(ARGV[2]) then return 1 end
redis.call('JSON.SET', KEYS[1], '$.last_accessed', ARGV[1])
return 2
"""

# Record fields returned with search results: everything but the vector and the keyword text,
# which are large and which a caller never sees.
_HIDDEN_FIELDS = frozenset({"embedding", "search_text", "search_terms"})

# The engine's own choice of how to combine a filter with KNN was measured slower than either
# explicit policy (10,000 memories, filter matching all: 6.4 ms, against 4.2 ms brute force over
# the matches and 1.2 ms in HNSW batches). Brute force costs in proportion to the matches,
# batches in proportion to 1 / selectivity: see ``hybrid_policy``.
ADHOC_MAX_MATCHES = 2_000
BATCHES_MIN_SELECTIVITY = 0.25


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


# Scored and Facts are built for every candidate of every search (hundreds a request): named
# tuples construct several times faster than frozen dataclasses.
class Scored(NamedTuple):
    """One search match: the memory id and its raw score."""

    id: str
    value: float  # cosine distance (vector search) or BM25 score (text search)


class Facts(NamedTuple):
    """What ranking reads of a candidate besides its score."""

    created_at: float
    last_accessed: float
    entities: list[str]


@dataclass(frozen=True)
class Counts:
    """How many memories match a filter, and how many are indexed in all."""

    matches: int
    size: int


@dataclass(frozen=True)
class Row:
    """A memory as listed for forgetting and compaction (fields from the index only)."""

    id: str
    created_at: float
    last_accessed: float
    memory_type: str
    pinned: bool
    memory_hash: str
    namespace: str | None
    user_id: str | None


class Written(NamedTuple):
    """What ``upsert_many`` did with one document."""

    created_at: float | None  # the stored created_at it kept; None for a new memory
    refused: bool = False  # another namespace or user owns the id: nothing written


def _owner_tag(value: Any) -> str:
    """A namespace or user_id as ``_UPSERT`` compares it."""
    return "" if value is None else f"={value}"


TOUCH_CHUNK = 8
SIZE_TTL = 5.0
COUNT_MAX_AGE = 60.0


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _well_formed(created_at: Any, last_accessed: Any, entities: Any) -> bool:
    return (
        isinstance(created_at, float | int)
        and isinstance(last_accessed, float | int)
        and (
            entities is None
            or (isinstance(entities, list) and all(isinstance(e, str) for e in entities))
        )
    )


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


@dataclass
class LongTermStore:
    redis: Redis
    keys: Keys
    index: str
    adhoc_max_matches: int = ADHOC_MAX_MATCHES
    batches_min_selectivity: float = BATCHES_MIN_SELECTIVITY

    def __post_init__(self) -> None:
        self._size: tuple[int, float] = (0, -SIZE_TTL - 1.0)
        self._counts: dict[str, tuple[str | None, int]] = {}  # filter -> (generation, matches)
        self._counted_at = 0.0  # the cache is emptied COUNT_MAX_AGE seconds after this
        self._generation = self.keys.long_term_generation
        self._hits = self.keys.access_counts
        # tag field -> (generation, distinct values, when read)
        self._tag_values: dict[str, tuple[str | None, tuple[str, ...], float]] = {}
        self._flat = flat_twin(self.redis)  # hot FT.SEARCH commands, parsed as RESP2 arrays
        self._upsert = self.redis.register_script(_UPSERT)
        self._touch = self.redis.register_script(_TOUCH)

    async def aclose(self) -> None:
        """Close the connections of the search client the store opened."""
        await self._flat.aclose()

    # -- documents ---------------------------------------------------------------------------
    async def upsert_many(self, docs: Sequence[dict[str, Any]]) -> list[Written]:
        """Write documents in one pipeline; each keeps its stored ``created_at``. A document
        whose id another namespace or user owns is not written (``Written.refused``); the
        others are."""
        if not docs:
            return []
        with backend_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for doc in docs:
                    key = self.keys.memory(doc["id"])
                    owner = [_owner_tag(doc.get("namespace")), _owner_tag(doc.get("user_id"))]
                    await self._upsert(keys=[key], args=[json.dumps(doc), *owner], client=pipe)
                self._changed(pipe)
                replies = await pipe.execute()
        return [
            Written(None, refused=True)
            if not int(r[0])
            else Written(float(r[1]) if len(r) > 1 else None)
            for r in replies[:-1]
        ]

    def _changed(self, pipe: Pipeline) -> None:
        """Queue a new generation token after the writes queued in ``pipe``."""
        pipe.set(self._generation, secrets.token_hex(8))

    async def get_many(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """Whole stored documents (vector included), None for a missing one. Their
        ``access_count`` is the document's alone, as a read-modify-write needs it; records add
        ``access_counts``."""
        if not ids:
            return []
        with backend_errors():
            raws = await self.redis.execute_command(
                "JSON.MGET", *(self.keys.memory(i) for i in ids), "$"
            )
        out: list[dict[str, Any] | None] = []
        for raw in raws:
            docs = json.loads(raw) if raw else []
            out.append(docs[0] if docs else None)
        return out

    async def get_fields(
        self, ids: Sequence[str], fields: Sequence[str]
    ) -> list[dict[str, Any] | None]:
        """``fields`` of each document, None for a missing document.

        One JSON.MGET with a union path (``$['a','b']``) answers every document in one round
        trip. A union leaves out the fields a document lacks, so a document whose answer has
        the wrong length is read again field by field (and a field it lacks is left out).
        ``access_count`` is the record's: the document's plus its hits in the access hash,
        read in the same round trip.
        """
        if not ids:
            return []
        names = [f for f in fields if f not in _HIDDEN_FIELDS]
        keys = [self.keys.memory(i) for i in ids]
        counted = "access_count" in names
        rows, hits = await self._union(keys, names, hits_of=ids if counted else None)
        out: list[dict[str, Any] | None] = []
        ragged: list[int] = []
        for n, values in enumerate(rows):
            if values is not None and len(values) != len(names):
                ragged.append(n)
            out.append(None if values is None else dict(zip(names, values, strict=False)))
        if ragged:
            paths = [f"$.{name}" for name in names]
            with backend_errors():
                async with self.redis.pipeline(transaction=False) as pipe:
                    for n in ragged:
                        pipe.execute_command("JSON.GET", keys[n], *paths)
                    replies = await pipe.execute()
            for n, raw in zip(ragged, replies, strict=True):
                found = json.loads(raw) if raw else None
                if isinstance(found, list):  # a single path answers with its matches alone
                    found = {paths[0]: found}
                out[n] = None if found is None else {p[2:]: v[0] for p, v in found.items() if v}
        for doc, extra in zip(out, hits, strict=False):
            if doc is not None and extra:
                doc["access_count"] = int(doc.get("access_count") or 0) + extra
        return out

    async def _union(
        self, keys: Sequence[str], names: Sequence[str], *, hits_of: Sequence[str] | None = None
    ) -> tuple[list[list[Any] | None], list[int]]:
        """Each document's values of ``names`` (in order; a field it lacks is left out), None
        for a missing document: one JSON.MGET with a union path. With ``hits_of`` (the ids of
        ``keys``), also their access hashes' counts, in the same round trip."""
        union = "$[" + ",".join(json.dumps(n) for n in names) + "]"
        hits: list[int] = []
        with backend_errors():
            if hits_of is None:
                raws = await self.redis.execute_command("JSON.MGET", *keys, union)
            else:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.execute_command("JSON.MGET", *keys, union)
                    pipe.hmget(self._hits, list(hits_of))
                    raws, found = await pipe.execute()
                hits = [int(n or 0) for n in found]
        # One decode for all documents: a hundred json.loads calls cost more than the parsing.
        decoded: list[list[Any] | None] = json.loads(
            "[" + ",".join(raw or "null" for raw in raws) + "]"
        )
        return decoded, hits

    async def get_facts(
        self, ids: Sequence[str], *, dates: bool, entities: bool
    ) -> dict[str, Facts]:
        """What ranking needs of each candidate that exists, in one round trip."""
        if not ids or not (dates or entities):
            return {}
        names = ("created_at", "last_accessed", "entities")
        out = {}
        found, _ = await self._union([self.keys.memory(i) for i in ids], names)
        for memory_id, values in zip(ids, found, strict=True):
            if values is None:
                continue  # deleted since the search
            if len(values) == 3 and _well_formed(*values):  # as every memory remem writes
                made, last, tags = values
                out[memory_id] = Facts(made, last, tags or [])
                continue
            (doc,) = await self.get_fields([memory_id], names)  # a document edited by hand
            if doc is None:
                continue
            made = _float(doc.get("created_at"))
            tags = doc.get("entities")
            out[memory_id] = Facts(
                created_at=made,
                last_accessed=_float(doc.get("last_accessed"), made),
                entities=[str(t) for t in tags] if isinstance(tags, list) else [],
            )
        return out

    async def delete_many(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        with backend_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                unique = list(dict.fromkeys(ids))
                for memory_id in unique:
                    pipe.unlink(self.keys.memory(memory_id))
                pipe.hdel(self._hits, *unique)
                self._changed(pipe)
                return sum(int(n) for n in (await pipe.execute())[: len(unique)])

    async def modify(
        self, memory_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Read, ``change`` and write one document under WATCH (retried on a concurrent write).

        Returns the written document; None when the memory does not exist or ``change``
        returned None (nothing written).
        """
        key = self.keys.memory(memory_id)
        with backend_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(key)
                        raw = cast("str | None", await pipe.execute_command("JSON.GET", key))
                        new = change(json.loads(raw)) if raw else None
                        if new is None:
                            await pipe.unwatch()
                            return None
                        pipe.multi()
                        pipe.execute_command("JSON.SET", key, "$", json.dumps(new))
                        self._changed(pipe)
                        await pipe.execute()
                        return new
                    except WatchError:
                        continue

    async def touch_many(
        self, hits: dict[str, tuple[int, float]], *, resolution: float = 0.0
    ) -> int:
        """Add search hits (count, latest time) to memories that still exist; move a memory's
        last_accessed only when the hit is ``resolution`` seconds or more after it. Returns
        how many documents were written.

        Two round trips a chunk: the dates (one script per memory), then the counts of the
        memories found, with a new generation token if a date moved. A memory deleted between
        the two keeps a count in the hash, which a delete clears.
        """
        items = list(hits.items())
        written = 0
        # A document write re-indexes it, vector included (0.9-1.3 ms at 100,000 memories), and
        # Redis runs a client's pipeline in one go: a search arriving behind 32 such writes
        # waited 30-40 ms; behind 8, about 10 ms.
        for start in range(0, len(items), TOUCH_CHUNK):
            chunk = items[start : start + TOUCH_CHUNK]
            with backend_errors():
                async with self.redis.pipeline(transaction=False) as pipe:
                    for memory_id, (_, when) in chunk:
                        key = self.keys.memory(memory_id)
                        await self._touch(
                            keys=[key], args=[repr(when), repr(resolution)], client=pipe
                        )
                    states = [int(r) for r in await pipe.execute()]
                found = [
                    (i, count)
                    for (i, (count, _)), state in zip(chunk, states, strict=True)
                    if state
                ]
                if not found:
                    continue
                async with self.redis.pipeline(transaction=False) as pipe:
                    for memory_id, count in found:
                        pipe.hincrby(self._hits, memory_id, count)
                    if 2 in states:
                        self._changed(pipe)  # last_accessed moved: a filter on it may count anew
                    await pipe.execute()
            written += states.count(2)
        return written

    async def access_counts(self, ids: Sequence[str]) -> list[int]:
        """Hits of each memory not yet in its document's ``access_count`` (see ``_TOUCH``)."""
        if not ids:
            return []
        with backend_errors():
            found = await self.redis.hmget(self._hits, list(ids))
        return [int(n or 0) for n in found]

    # -- index -------------------------------------------------------------------------------
    async def _search(self, query: str, *args: Any) -> dict[str, Any]:
        with backend_errors():
            reply: dict[str, Any] = await self.redis.execute_command(
                "FT.SEARCH", self.index, query, *args, "DIALECT", 2
            )
        return reply

    def _id(self, key: str) -> str:
        return self.keys.parse_memory(key)

    async def _flat_search(self, query: str, *args: Any) -> list[Any]:
        """FT.SEARCH through the RESP2 twin: ``[total, key, fields or score, ...]``."""
        with backend_errors():
            reply: list[Any] = await self._flat.execute_command(
                "FT.SEARCH", self.index, query, *args, "DIALECT", 2
            )
        return reply

    async def count(self, query: str) -> int:
        return int((await self._flat_search(query, "LIMIT", 0, 0))[0])

    async def counts(self, query: str) -> Counts:
        """Memories matching ``query`` (exact, see the module docstring), and memories indexed
        (re-counted at most every ``SIZE_TTL`` seconds: it only guides how KNN applies a
        filter)."""
        cached = self._cached_count(query)
        generation: str | None = None
        if cached is not None:
            with backend_errors():
                generation = cast("str | None", await self.redis.get(self._generation))
        return await self._confirmed(query, cached, generation)

    async def _confirmed(
        self, query: str, cached: tuple[str | None, int] | None, generation: str | None
    ) -> Counts:
        """The kept count when ``generation`` is still the one it was counted at, else a new
        count."""
        if cached is not None and generation == cached[0]:
            return await self._sized(query, cached[1])
        return await self._sized(query, await self._count_now(query))

    def _cached_count(self, query: str) -> tuple[str | None, int] | None:
        if time.monotonic() - self._counted_at > COUNT_MAX_AGE:
            self._counts.clear()  # bounds how long a write behind remem's back goes unseen
        return self._counts.get(query)

    async def _count_now(self, query: str) -> int:
        """Count ``query`` and keep the count with the generation it was counted at."""
        with backend_errors():
            async with self._flat.pipeline(transaction=True) as pipe:
                pipe.get(self._generation)
                pipe.execute_command("FT.SEARCH", self.index, query, "LIMIT", 0, 0, "DIALECT", 2)
                generation, reply = await pipe.execute()
        matches = int(reply[0])
        if len(self._counts) >= 1024:
            self._counts.clear()
        if not self._counts:
            self._counted_at = time.monotonic()
        self._counts[query] = (generation, matches)
        return matches

    async def _sized(self, query: str, matches: int) -> Counts:
        """``matches`` with the number of memories indexed."""
        if query == "*":
            self._size = (matches, time.monotonic())
        elif time.monotonic() - self._size[1] > SIZE_TTL:
            self._size = (await self.count("*"), time.monotonic())
        return Counts(matches, max(self._size[0], matches))

    async def tag_values(self, field: str) -> tuple[str, ...]:
        """The distinct values of a tag field, as indexed. Kept per process with the generation
        they were read at, as counts are: one GET while no write has happened."""
        kept = await self.kept_tag_values(field)
        return kept if kept is not None else await self.read_tag_values(field)

    async def read_tag_values(self, field: str) -> tuple[str, ...]:
        """Read a tag field's values now, and keep them with the generation they belong to."""
        with backend_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(self._generation)
                pipe.execute_command("FT.TAGVALS", self.index, field)
                generation, values = await pipe.execute()
        found = tuple(str(v) for v in values)
        self._tag_values[field] = (generation, found, time.monotonic())
        return found

    async def kept_tag_values(self, field: str) -> tuple[str, ...] | None:
        """The values ``tag_values`` kept, if still current (None: written since)."""
        kept = self._tag_values.get(field)
        if kept is None or time.monotonic() - kept[2] > COUNT_MAX_AGE:
            return None
        with backend_errors():
            generation = await self.redis.get(self._generation)
        return kept[1] if generation == kept[0] else None

    def _knn_command(
        self,
        query: str,
        vector: np.ndarray,
        k: int,
        max_distance: float | None,
        counts: Counts | None,
    ) -> list[Any]:
        params: list[Any] = ["K", k, "vec", vector_bytes(vector)]
        if max_distance is not None:
            query = conjunction([query, vector_range("embedding")])
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
            "FT.SEARCH", self.index, knn(query, "embedding", policy=policy),
            "PARAMS", len(params), *params,
            "SORTBY", "dist", "ASC",
            "RETURN", 1, "dist",
            "LIMIT", 0, k,
            "DIALECT", 2,
        ]  # fmt: skip

    def _knn_found(self, reply: list[Any]) -> list[Scored]:
        """Parse ``[total, key, ["dist", d], key, ...]`` (RESP2, ``RETURN 1 dist``)."""
        found = [
            Scored(self._id(key), _float(fields[1] if fields else None, 2.0))
            for key, fields in zip(reply[1::2], reply[2::2], strict=True)
        ]
        return sorted(found, key=lambda c: (c.value, c.id))

    async def nearest(
        self,
        query: str,
        vector: np.ndarray,
        k: int,
        *,
        max_distance: float | None = None,
        counts: Counts | None = None,
    ) -> list[Scored]:
        """The ``k`` memories matching ``query`` nearest to ``vector``, nearest first.

        ``counts`` (of ``query``) lets the search pick how to apply the filter.
        """
        command = self._knn_command(query, vector, k, max_distance, counts)
        with backend_errors():
            reply = await self._flat.execute_command(*command)
        return self._knn_found(reply)

    async def counted_nearest(
        self, query: str, vector: np.ndarray, k: int, *, words: Sequence[str] = ()
    ) -> tuple[Counts, list[Scored], tuple[int, list[Scored]]]:
        """The exact count of ``query``, its ``k`` nearest memories and, given ``words``, the
        keyword search for them (as ``keyword``; else ``(0, [])``).

        With a count of the filter at hand, that count picks the KNN policy and the searches
        go in one round trip with the generation token, which tells whether the count still
        holds (else the filter is counted again).
        """
        cached = self._cached_count(query)
        if cached is None:
            counts: Counts | None = await self.counts(query)
            guide = counts
        else:
            counts, guide = None, Counts(cached[1], max(self._size[0], cached[1]))
        with backend_errors():
            async with self._flat.pipeline(transaction=False) as pipe:
                pipe.get(self._generation)
                pipe.execute_command(*self._knn_command(query, vector, k, None, guide))
                if words:
                    pipe.execute_command(*self._keyword_command(query, words, k))
                replies = await pipe.execute()
        if counts is None:
            counts = await self._confirmed(query, cached, replies[0])
        lexical = self._keyword_found(replies[2]) if words else (0, [])
        return counts, self._knn_found(replies[1]), lexical

    async def distances(self, ids: Sequence[str], vector: np.ndarray) -> dict[str, float]:
        """Cosine distance from ``vector`` of each of these memories that exists, computed by
        the index (brute force over just these memories)."""
        if not ids:
            return {}
        query = knn(tag_any("id", ids), "embedding", policy="ADHOC_BF")
        reply = await self._flat_search(
            query,
            "PARAMS", 4, "K", len(ids), "vec", vector_bytes(vector),
            "RETURN", 1, "dist",
            "LIMIT", 0, len(ids),
        )  # fmt: skip
        return {c.id: c.value for c in self._knn_found(reply)}

    async def count_within(self, query: str, vector: np.ndarray, max_distance: float) -> int:
        """How many memories matching ``query`` lie within ``max_distance`` of ``vector``."""
        reply = await self._flat_search(
            conjunction([query, vector_range("embedding")]),
            "PARAMS", 4, "radius", repr(float(max_distance)), "vec", vector_bytes(vector),
            "LIMIT", 0, 0,
        )  # fmt: skip
        return int(reply[0])

    async def keyword(self, query: str, words: Sequence[str], k: int) -> tuple[int, list[Scored]]:
        """BM25 over ``search_text`` for any of ``words``: (exact total, best ``k``)."""
        with backend_errors():
            reply = await self._flat.execute_command(*self._keyword_command(query, words, k))
        return self._keyword_found(reply)

    def _keyword_command(self, query: str, words: Sequence[str], k: int) -> list[Any]:
        # BM25STD is Okapi BM25, the sum over the words a memory holds (Redis 8's default
        # scorer). RediSearch 2.10's legacy BM25 divided that sum by a "slop" growing with the
        # words matched, term offsets or not, so holding all four words of a query scored about
        # as holding one (issue 9).
        return [
            "FT.SEARCH", self.index, self.keyword_query(query, words),
            "WITHSCORES", "SCORER", "BM25STD", "NOCONTENT",
            "LIMIT", 0, k,
            "DIALECT", 2,
        ]  # fmt: skip

    def _keyword_found(self, reply: list[Any]) -> tuple[int, list[Scored]]:
        """Parse ``[total, key, score, key, score, ...]`` (RESP2, WITHSCORES NOCONTENT)."""
        found = [
            Scored(self._id(key), _float(score))
            for key, score in zip(reply[1::2], reply[2::2], strict=True)
        ]
        return int(reply[0]), sorted(found, key=lambda c: (-c.value, c.id))

    def keyword_query(self, query: str, words: Sequence[str]) -> str:
        return text_any_where("search_text", words, query)

    async def recent(self, query: str, k: int) -> tuple[int, list[Scored]]:
        """Newest first (the keyword search of a query without words): (total, first ``k``),
        each scored by its ``created_at``."""
        reply = await self._search(
            query,
            "SORTBY", "created_at", "DESC",
            "RETURN", 1, "created_at",
            "LIMIT", 0, k,
        )  # fmt: skip
        found = []
        for row in reply.get("results", []):
            attrs = row.get("extra_attributes") or {}
            found.append(Scored(self._id(row["id"]), _float(attrs.get("created_at"))))
        return int(reply["total_results"]), found

    async def oldest(self, query: str, limit: int, offset: int = 0) -> list[Row]:
        """Memories matching ``query``, oldest ``created_at`` first."""
        fields = (
            "created_at",
            "last_accessed",
            "$.memory_type",
            "$.pinned",
            "$.memory_hash",
            "$.namespace",
            "$.user_id",
        )
        reply = await self._search(
            query,
            "SORTBY", "created_at", "ASC",
            "RETURN", len(fields), *fields,
            "LIMIT", offset, limit,
        )  # fmt: skip
        rows = []
        for row in reply.get("results", []):
            a = row.get("extra_attributes") or {}
            rows.append(
                Row(
                    id=self._id(row["id"]),
                    created_at=_float(a.get("created_at")),
                    last_accessed=_float(a.get("last_accessed")),
                    memory_type=str(a.get("$.memory_type", "")),
                    pinned=a.get("$.pinned") in ("1", "true", True),
                    memory_hash=str(a.get("$.memory_hash", "")),
                    namespace=a.get("$.namespace") or None,
                    user_id=a.get("$.user_id") or None,
                )
            )
        return rows
