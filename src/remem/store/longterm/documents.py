"""Long-term memory documents: one per memory under ``Keys.memory``, written and read here, with
the access-count hash beside them (a record's ``access_count`` is its document's plus the hash's,
so "document count + hash" is added up in this module only).

Writes are atomic on the server: an upsert keeps the document's first ``created_at`` and refuses
an id another owner holds (Lua); a read-modify-write runs under WATCH and retries a bounded
number of times; access counts are added by a Lua script that never recreates a deleted memory.
Every write replaces the generation token (``Keys.long_term_generation``) after it, which tells
the generation cache (``store.longterm.cache``) that its counts may be stale.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from remem.errors import Conflict
from remem.store.connection import translates_errors
from remem.store.keys import Keys
from remem.store.longterm.values import Facts, Written, number

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
TOUCH_CHUNK = 8
MODIFY_ATTEMPTS = 16  # WATCH conflicts a modify survives before it gives up


def _owner_tag(value: Any) -> str:
    """A namespace or user_id as ``_UPSERT`` compares it."""
    return "" if value is None else f"={value}"


def _well_formed(created_at: Any, last_accessed: Any, entities: Any) -> bool:
    return (
        isinstance(created_at, float | int)
        and isinstance(last_accessed, float | int)
        and (
            entities is None
            or (isinstance(entities, list) and all(isinstance(e, str) for e in entities))
        )
    )


@translates_errors
class MemoryDocuments:
    """The documents of long-term memories and their access counts."""

    def __init__(self, redis: Redis, keys: Keys, *, modify_attempts: int = MODIFY_ATTEMPTS) -> None:
        self.redis, self.keys = redis, keys
        self.modify_attempts = modify_attempts
        self._generation = keys.long_term_generation
        self._hits = keys.access_counts
        self._upsert = redis.register_script(_UPSERT)
        self._touch = redis.register_script(_TOUCH)

    async def upsert_many(self, docs: Sequence[dict[str, Any]]) -> list[Written]:
        """Write documents in one pipeline; each keeps its stored ``created_at``. A document
        whose id another namespace or user owns is not written (``Written.refused``); the
        others are."""
        if not docs:
            return []
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

    async def facts(self, ids: Sequence[str], *, dates: bool, entities: bool) -> dict[str, Facts]:
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
            made = number(doc.get("created_at"))
            tags = doc.get("entities")
            out[memory_id] = Facts(
                created_at=made,
                last_accessed=number(doc.get("last_accessed"), made),
                entities=[str(t) for t in tags] if isinstance(tags, list) else [],
            )
        return out

    async def delete_many(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
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
        """Read, ``change`` and write one document under WATCH, again when another write
        came between (``change`` must not have side effects).

        Returns the written document; None when the memory does not exist or ``change``
        returned None (nothing written). Raises ``Conflict`` after ``modify_attempts``
        concurrent writes in a row: a memory written that often is better retried by the
        caller than spun on here.
        """
        key = self.keys.memory(memory_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            for _ in range(self.modify_attempts):
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
        raise Conflict(
            f"memory {memory_id!r} was written concurrently {self.modify_attempts} times "
            "while this change was being applied; try again"
        )

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
            async with self.redis.pipeline(transaction=False) as pipe:
                for memory_id, (_, when) in chunk:
                    key = self.keys.memory(memory_id)
                    await self._touch(keys=[key], args=[repr(when), repr(resolution)], client=pipe)
                states = [int(r) for r in await pipe.execute()]
            found = [
                (i, count) for (i, (count, _)), state in zip(chunk, states, strict=True) if state
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
        found = await self.redis.hmget(self._hits, list(ids))
        return [int(n or 0) for n in found]
