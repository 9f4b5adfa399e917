"""Long-term memory documents: one HASH per memory under ``Keys.memory`` (fields as
``store.longterm.layout`` encodes them), written and read here, with
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
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import numpy as np
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from remem.errors import Conflict
from remem.store.connection import flat_twin, translates_errors
from remem.store.keys import Keys
from remem.store.longterm.documents_cluster import (
    TOUCH_CHUNK,
    ClusterDocuments,
    Within,
    owner_tag,
)
from remem.store.longterm.layout import VECTOR, decode, encode, flat
from remem.store.longterm.rows import HIDDEN_FIELDS, distances_of, facts_of, pairs, record_of
from remem.store.longterm.scripts import INSERT, LINK, READ, READ_RECORDS, TOUCH, UPSERT
from remem.store.longterm.values import Facts, Link, Written

MODIFY_ATTEMPTS = 16  # WATCH conflicts a modify survives before it gives up


@translates_errors
class MemoryDocuments:
    """The documents of long-term memories and their access counts."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        index: str | None = None,
        modify_attempts: int = MODIFY_ATTEMPTS,
    ) -> None:
        """``index``: the long-term index's name, through which a Redis Cluster finds a
        memory's key by its id (``located.keys_by_id``); a single Redis does not need it."""
        self.keys = keys
        self.modify_attempts = modify_attempts
        # Vectors are bytes: this client answers in bytes (RESP2), decoded by the layout.
        self.redis = flat_twin(redis, decode_responses=False)
        self._generation = keys.long_term_generation
        self._hits = keys.access_counts
        self._upsert = self.redis.register_script(UPSERT)
        self._insert = self.redis.register_script(INSERT)
        self._touch = self.redis.register_script(TOUCH)
        self._read = self.redis.register_script(READ)
        self._read_records = self.redis.register_script(READ_RECORDS)
        self._link = self.redis.register_script(LINK)
        self._cluster = (
            ClusterDocuments(self, redis, index or "", self._modify_at) if keys.cluster else None
        )

    async def aclose(self) -> None:
        """Close the connections of the bytes client."""
        await self.redis.aclose()

    async def upsert_many(
        self, docs: Sequence[dict[str, Any]], links: Sequence[Link] = ()
    ) -> list[Written]:
        """Write documents in one pipeline; each keeps its stored ``created_at``. A document
        whose id another namespace or user owns is not written (``Written.refused``); the
        others are. ``links`` (facts that change: a stored memory superseded by one of these
        documents, or superseding it) are applied in the same MULTI as the documents, so a
        new version and the old one's ``invalid_at`` are written together."""
        if not docs:
            return []
        if self._cluster:
            return await self._cluster.upsert_many(docs, links)
        async with self.redis.pipeline(transaction=bool(links)) as pipe:
            for doc in docs:
                key = self.keys.memory(doc["id"])
                owner = [owner_tag(doc.get("namespace")), owner_tag(doc.get("user_id"))]
                await self._upsert(keys=[key], args=[*owner, *flat(encode(doc))], client=pipe)
            for link in links:
                await self._apply_link(link, pipe)
            self._changed(pipe)
            replies = await pipe.execute()
        return [
            Written(None, refused=True)
            if not int(r[0])
            else Written(float(r[1]) if len(r) > 1 else None)
            for r in replies[: len(docs)]
        ]

    async def _apply_link(self, link: Link, pipe: Pipeline) -> None:
        owner = [owner_tag(link.namespace), owner_tag(link.user_id)]
        invalid = "" if link.invalid_at is None else json.dumps(link.invalid_at)
        args = [*owner, link.field, link.other, invalid, json.dumps(link.at)]
        await self._link(keys=[self.keys.memory(link.memory_id)], args=args, client=pipe)

    async def insert_new(self, docs: Sequence[dict[str, Any]]) -> list[bool]:
        """Write the documents whose id no memory has, in one pipeline: for each, whether it
        was written (False: a memory with that id was there, and is left as it was)."""
        if not docs:
            return []
        if self._cluster:
            return await self._cluster.insert_new(docs)
        async with self.redis.pipeline(transaction=False) as pipe:
            for doc in docs:
                key = self.keys.memory(doc["id"])
                await self._insert(keys=[key], args=flat(encode(doc)), client=pipe)
            self._changed(pipe)
            replies = await pipe.execute()
        return [bool(int(r)) for r in replies[:-1]]

    def _changed(self, pipe: Pipeline) -> None:
        """Queue a new generation token after the writes queued in ``pipe``."""
        pipe.set(self._generation, secrets.token_hex(8))

    async def get_many(
        self, ids: Sequence[str], within: Within | None = None
    ) -> list[dict[str, Any] | None]:
        """Whole stored documents (vector included), None for a missing one. Their
        ``access_count`` is the document's alone, as a read-modify-write needs it; records add
        ``access_counts``. ``within`` (every by-id method takes it): the owners (namespace,
        user_id) the caller may see, which on a cluster pick among namespaces holding one id (a
        single Redis holds an id once; either way the caller checks the owner it gets)."""
        if not ids:
            return []
        if self._cluster:
            return await self._cluster.get_many(ids, within)
        found = await self._read(keys=[self.keys.memory(i) for i in ids], args=[])
        return [None if not row else decode(pairs(row)) for row in found]

    async def scan_ids(self, batch: int = 500) -> AsyncIterator[list[str]]:
        """Every memory's id, a SCAN batch at a time (a memory written meanwhile may be missed
        or repeated, as SCAN goes)."""
        if self._cluster:
            async for ids in self._cluster.scan_ids(batch):
                yield ids
            return
        cursor = 0
        while True:
            cursor, found = await self.redis.scan(
                cursor, match=f"{self.keys.memory_prefix}*", count=batch, _type="hash"
            )
            if found:
                yield [
                    self.keys.parse_memory(k if isinstance(k, str) else k.decode()) for k in found
                ]
            if cursor == 0:
                return

    async def distances(
        self, ids: Sequence[str], vector: np.ndarray, within: Within | None = None
    ) -> dict[str, float]:
        """Cosine distance from ``vector`` of each of these memories that exists (and has a
        vector of its size), computed here from the stored vectors: one HGET each, pipelined.
        The index's brute force over just these memories (``FT.SEARCH`` with ``ADHOC_BF``)
        gave the same distances at about 50 µs of Redis CPU a search."""
        if not ids:
            return {}
        if self._cluster:
            return distances_of(ids, await self._cluster.vectors(ids, within), vector)
        async with self.redis.pipeline(transaction=False) as pipe:
            for memory_id in ids:
                pipe.hget(self.keys.memory(memory_id), VECTOR)
            raws: list[bytes | None] = await pipe.execute()
        return distances_of(ids, raws, vector)

    async def get_fields(
        self, ids: Sequence[str], fields: Sequence[str], within: Within | None = None
    ) -> list[dict[str, Any] | None]:
        """``fields`` of each document (a field it lacks is left out), None for a missing
        document, in one round trip. ``access_count`` is the record's: the document's plus its
        hits in the access hash, read in the same round trip."""
        if not ids:
            return []
        names = [f for f in fields if f not in HIDDEN_FIELDS]
        hits = "access_count" in names
        if self._cluster:
            return [
                record_of(names, r, hits) for r in await self._cluster.records(ids, names, within)
            ]
        keys = [self._hits, *(self.keys.memory(i) for i in ids)]
        args: list[str | int] = [len(names), *names, *(ids if hits else ())]
        # One EVALSHA (redis-py loads the script again if Redis lost it, as a restarted
        # embedded Redis has); scripts in a pipeline would first ask SCRIPT EXISTS.
        rows = await self._read_records(keys=keys, args=args)
        return [record_of(names, row, hits) for row in rows]

    async def facts(
        self,
        ids: Sequence[str],
        *,
        dates: bool,
        entities: bool,
        roles: bool = False,
        within: Within | None = None,
    ) -> dict[str, Facts]:
        """What ranking needs of each candidate that exists, in one round trip. Values edited
        by hand are read leniently: a date that is not a number reads as 0 (last_accessed as
        created_at). ``roles``: the role too (else None)."""
        if not ids or not (dates or entities or roles):
            return {}
        names = ["created_at", "last_accessed", "entities", *(["role"] if roles else [])]
        if self._cluster:
            found = await self._cluster.read(ids, names, within)
        else:
            found = await self._read(keys=[self.keys.memory(i) for i in ids], args=names)
        # A memory deleted since the search is left out.
        return {i: facts_of(row, roles) for i, row in zip(ids, found, strict=True) if row}

    async def delete_many(self, ids: Sequence[str], within: Within | None = None) -> int:
        if not ids:
            return 0
        if self._cluster:
            return await self._cluster.delete_many(ids, within)
        async with self.redis.pipeline(transaction=False) as pipe:
            unique = list(dict.fromkeys(ids))
            for memory_id in unique:
                pipe.unlink(self.keys.memory(memory_id))
            pipe.hdel(self._hits, *unique)
            self._changed(pipe)
            return sum(int(n) for n in (await pipe.execute())[: len(unique)])

    async def modify(
        self,
        memory_id: str,
        change: Callable[[dict[str, Any]], dict[str, Any] | None],
        within: Within | None = None,
    ) -> dict[str, Any] | None:
        """Read, ``change`` and write one document under WATCH, again when another write
        came between (``change`` must not have side effects).

        Returns the written document; None when the memory does not exist or ``change``
        returned None (nothing written). Raises ``Conflict`` after ``modify_attempts``
        concurrent writes in a row: a memory written that often is better retried by the
        caller than spun on here.
        """
        if self._cluster:
            return await self._cluster.modify(memory_id, change, within)
        return await self._modify_at(self.keys.memory(memory_id), self._generation, change)

    async def _modify_at(
        self, key: str, token: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """``modify`` of the memory at ``key``, replacing the generation token ``token``."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for _ in range(self.modify_attempts):
                try:
                    await pipe.watch(key)
                    raw = await pipe.hgetall(key)
                    new = change(decode(raw)) if raw else None  # type: ignore[arg-type]
                    if new is None:
                        await pipe.unwatch()
                        return None
                    pipe.multi()
                    pipe.delete(key)
                    pipe.hset(key, mapping=encode(new))  # type: ignore[arg-type]
                    pipe.set(token, secrets.token_hex(8))
                    await pipe.execute()
                    return new
                except WatchError:
                    continue
        memory_id = self.keys.parse_memory(key)
        raise Conflict(
            f"memory {memory_id!r} was written concurrently {self.modify_attempts} times "
            "while this change was being applied; try again"
        )

    async def touch_many(
        self,
        hits: dict[str, tuple[int, float]],
        *,
        resolution: float = 0.0,
        within: Within | None = None,
        namespaces: Mapping[str, str | None] | None = None,
    ) -> int:
        """Add search hits (count, latest time) to memories that still exist; move a memory's
        last_accessed only when the hit is ``resolution`` seconds or more after it. Returns
        how many documents were written. ``namespaces``: each id's namespace where it was hit,
        which on a cluster names its key (else the id is looked up, ``within`` choosing).

        Two round trips a chunk: the dates (one script per memory), then the counts of the
        memories found, with a new generation token if a date moved. A memory deleted between
        the two keeps a count in the hash, which a delete clears.
        """
        if self._cluster:
            return await self._cluster.touch_many(hits, resolution, within, namespaces)
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

    async def access_counts(self, ids: Sequence[str], within: Within | None = None) -> list[int]:
        """Hits of each memory not yet in its document's ``access_count`` (``scripts.TOUCH``)."""
        if not ids:
            return []
        if self._cluster:
            return await self._cluster.access_counts(ids, within)
        found = await self.redis.hmget(self._hits, list(ids))
        return [int(n or 0) for n in found]
