"""Long-term memory documents in Redis: one JSON document per memory, searched through
``long_term_memory_idx`` (see ``store.schema.long_term_memory_index``).

The store knows documents (dicts), keys and queries, nothing of what a memory means. Writes are
atomic on the server: an upsert keeps the document's first ``created_at`` (Lua); a
read-modify-write runs under WATCH and retries; access counts are added by a Lua script that
never recreates a deleted memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from redis.asyncio import Redis
from redis.exceptions import WatchError

from remem.store.connection import backend_errors
from remem.store.keys import Keys
from remem.store.query import conjunction, knn, text_any, vector_range

_UPSERT = """
local old = redis.call('JSON.GET', KEYS[1], '$.created_at')
redis.call('JSON.SET', KEYS[1], '$', ARGV[1])
if old and old ~= '[]' and old ~= '[null]' then
  redis.call('JSON.SET', KEYS[1], '$.created_at', string.sub(old, 2, -2))
  return string.sub(old, 2, -2)
end
return false
"""

_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('JSON.NUMINCRBY', KEYS[1], '$.access_count', ARGV[1])
local last = redis.call('JSON.GET', KEYS[1], '$.last_accessed')
local old = tonumber(string.sub(last or '', 2, -2))
if not old or old < tonumber(ARGV[2]) then
  redis.call('JSON.SET', KEYS[1], '$.last_accessed', ARGV[2])
end
return 1
"""

# Record fields returned with search results: everything but the vector and the keyword text,
# which are large and which a caller never sees.
_HIDDEN_FIELDS = frozenset({"embedding", "search_text"})

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


@dataclass(frozen=True)
class Scored:
    """One search match: the memory id and its raw score."""

    id: str
    value: float  # cosine distance (vector search) or BM25 score (text search)


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


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


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
        self._upsert = self.redis.register_script(_UPSERT)
        self._touch = self.redis.register_script(_TOUCH)

    # -- documents ---------------------------------------------------------------------------
    async def upsert_many(self, docs: Sequence[dict[str, Any]]) -> list[float | None]:
        """Write documents in one pipeline; each keeps its stored ``created_at`` (returned)."""
        if not docs:
            return []
        with backend_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for doc in docs:
                    key = self.keys.memory(doc["id"])
                    await self._upsert(keys=[key], args=[json.dumps(doc)], client=pipe)
                replies = await pipe.execute()
        return [float(r) if r else None for r in replies]

    async def get_many(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """Whole stored documents (vector included), None for a missing one."""
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

    async def get_records(
        self, ids: Sequence[str], fields: Sequence[str]
    ) -> list[dict[str, Any] | None]:
        """``fields`` of each document (no vector: sending 384 floats as text is the cost of
        a search), None for a missing one; a field the document lacks is left out."""
        if not ids:
            return []
        paths = [f"$.{f}" for f in fields if f not in _HIDDEN_FIELDS]
        with backend_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for memory_id in ids:
                    pipe.execute_command("JSON.GET", self.keys.memory(memory_id), *paths)
                raws = await pipe.execute()
        out: list[dict[str, Any] | None] = []
        for raw in raws:
            if raw is None:
                out.append(None)
                continue
            found = json.loads(raw)
            if len(paths) == 1:  # one path: the matches alone, not keyed by path
                found = {paths[0]: found}
            out.append({p[2:]: v[0] for p, v in found.items() if v})
        return out

    async def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of the memories that exist."""
        if not ids:
            return {}
        with backend_errors():
            raws = await self.redis.execute_command(
                "JSON.MGET", *(self.keys.memory(i) for i in ids), "$.embedding"
            )
        out = {}
        for memory_id, raw in zip(ids, raws, strict=True):
            found = json.loads(raw) if raw else []
            if found:
                out[memory_id] = np.asarray(found[0], dtype=np.float32)
        return out

    async def get_lists(self, ids: Sequence[str], field: str) -> dict[str, list[str]]:
        """A list field (topics, entities) of the memories that exist and have it."""
        if not ids:
            return {}
        with backend_errors():
            raws = await self.redis.execute_command(
                "JSON.MGET", *(self.keys.memory(i) for i in ids), f"$.{field}"
            )
        out = {}
        for memory_id, raw in zip(ids, raws, strict=True):
            found = json.loads(raw) if raw else []
            if found and isinstance(found[0], list):
                out[memory_id] = [str(v) for v in found[0]]
        return out

    async def get_dates(self, ids: Sequence[str]) -> dict[str, tuple[float, float]]:
        """(created_at, last_accessed) of the memories that exist."""
        if not ids:
            return {}
        keys = [self.keys.memory(i) for i in ids]
        with backend_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.execute_command("JSON.MGET", *keys, "$.created_at")
                pipe.execute_command("JSON.MGET", *keys, "$.last_accessed")
                created, accessed = await pipe.execute()
        out = {}
        for memory_id, c, a in zip(ids, created, accessed, strict=True):
            if c is None:
                continue
            first = json.loads(c)
            last = json.loads(a) if a else []
            made = _float(first[0] if first else None)
            out[memory_id] = (made, _float(last[0] if last else None, made))
        return out

    async def delete_many(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        with backend_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for memory_id in dict.fromkeys(ids):
                    pipe.unlink(self.keys.memory(memory_id))
                return sum(int(n) for n in await pipe.execute())

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
                        await pipe.execute()
                        return new
                    except WatchError:
                        continue

    async def touch_many(self, hits: dict[str, tuple[int, float]]) -> None:
        """Add access counts and move last_accessed forward, for memories that still exist."""
        if not hits:
            return
        with backend_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for memory_id, (count, when) in hits.items():
                    key = self.keys.memory(memory_id)
                    await self._touch(keys=[key], args=[count, repr(when)], client=pipe)
                await pipe.execute()

    # -- index -------------------------------------------------------------------------------
    async def _search(self, query: str, *args: Any) -> dict[str, Any]:
        with backend_errors():
            reply: dict[str, Any] = await self.redis.execute_command(
                "FT.SEARCH", self.index, query, *args, "DIALECT", 2
            )
        return reply

    def _id(self, key: str) -> str:
        return self.keys.parse_memory(key)

    async def count(self, query: str) -> int:
        return int((await self._search(query, "LIMIT", 0, 0))["total_results"])

    async def counts(self, query: str) -> Counts:
        """Memories matching ``query`` and memories indexed, in one round trip."""
        if query == "*":
            size = await self.count("*")
            return Counts(size, size)
        with backend_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for q in (query, "*"):
                    pipe.execute_command("FT.SEARCH", self.index, q, "LIMIT", 0, 0, "DIALECT", 2)
                matches, size = await pipe.execute()
        return Counts(int(matches["total_results"]), int(size["total_results"]))

    async def tag_values(self, field: str) -> list[str]:
        with backend_errors():
            values = await self.redis.execute_command("FT.TAGVALS", self.index, field)
        return [str(v) for v in values]

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
        reply = await self._search(
            knn(query, "embedding", policy=policy),
            "PARAMS", len(params), *params,
            "SORTBY", "dist", "ASC",
            "RETURN", 1, "dist",
            "LIMIT", 0, k,
        )  # fmt: skip
        found = [
            Scored(self._id(row["id"]), _float(row["extra_attributes"]["dist"], 2.0))
            for row in reply.get("results", [])
        ]
        return sorted(found, key=lambda c: (c.value, c.id))

    async def count_within(self, query: str, vector: np.ndarray, max_distance: float) -> int:
        """How many memories matching ``query`` lie within ``max_distance`` of ``vector``."""
        reply = await self._search(
            conjunction([query, vector_range("embedding")]),
            "PARAMS", 4, "radius", repr(float(max_distance)), "vec", vector_bytes(vector),
            "LIMIT", 0, 0,
        )  # fmt: skip
        return int(reply["total_results"])

    async def keyword(self, query: str, words: Sequence[str], k: int) -> tuple[int, list[Scored]]:
        """BM25 over ``search_text`` for any of ``words``: (exact total, best ``k``)."""
        reply = await self._search(
            self.keyword_query(query, words),
            "WITHSCORES", "SCORER", "BM25", "NOCONTENT",
            "LIMIT", 0, k,
        )  # fmt: skip
        found = [
            Scored(self._id(row["id"]), _float(row.get("score")))
            for row in reply.get("results", [])
        ]
        return int(reply["total_results"]), sorted(found, key=lambda c: (-c.value, c.id))

    def keyword_query(self, query: str, words: Sequence[str]) -> str:
        return conjunction([query, text_any("search_text", words)])

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
