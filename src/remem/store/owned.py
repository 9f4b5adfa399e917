"""The data a user or a namespace owns, found through the two indexes (never KEYS or a SCAN
of the keyspace): the sessions through ``working_memory_idx``, the memories through
``long_term_memory_idx``; read for an export, unlinked for an erase.

Each round asks its index for the first page of ids still matching and UNLINKs that page in
pipelines of 64 keys, so a round's cost is its page, not the user's whole data: the index drops a
deleted key at once, and the next round's page starts again at offset 0. A key that is written
for the user during the erase and matches is found by a later round; one written after the last
round is not (see ``maintenance.erase`` for what a racing write does).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from remem.store import owned_cluster as cluster
from remem.store.connection import backend_errors, flat_twin, translates_errors
from remem.store.keys import Keys
from remem.store.query import every, tag_is
from remem.store.working import Session

PAGE = 1_000  # ids a round reads and unlinks: 10,000 memories are ten rounds
# Keys one pipeline unlinks. Redis runs what a client has sent before serving another, and
# unlinking an indexed memory takes it 110-170 us (its vector leaves the HNSW graph): measured
# while erasing 10,000 memories, a PING from another client waited up to 118-124 ms behind
# pipelines of 1,000 and 18-32 ms behind pipelines of 64, for an erase 0.2 s longer (1.0 s
# against 0.8, on a loaded 2-core machine). Other tenants come first.
UNLINK_CHUNK = 64


def _scope(namespace: str | None, user_id: str | None) -> str:
    if namespace is None and user_id is None:  # a bug in the caller: would erase everything
        raise ValueError("an erase needs a namespace or a user")
    return every(tag_is("namespace", namespace), tag_is("user_id", user_id)).render()


@translates_errors
class OwnedData:
    """The sessions and memories of one user or namespace, read or unlinked by page. On a
    cluster (``Keys.cluster``) its reads are ``store.owned_cluster``'s."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        working_index: str,
        long_term_index: str,
        *,
        page: int = PAGE,
    ) -> None:
        self.redis, self.keys, self.page = redis, keys, page
        self.working_index, self.long_term_index = working_index, long_term_index
        self.flat = flat_twin(redis)  # FT.SEARCH NOCONTENT as a flat list of keys

    async def aclose(self) -> None:
        await self.flat.aclose()

    async def _page(self, index: str, query: str, namespace: str | None) -> list[str]:
        if self.keys.cluster:
            return await cluster.first_keys(self.redis, index, query, namespace, self.page)
        reply: list[Any] = await self.flat.execute_command(
            "FT.SEARCH", index, query, "NOCONTENT", "LIMIT", 0, self.page, "DIALECT", 2
        )
        return [str(k) for k in reply[1:]]

    def _unlink(self, pipe: Any, keys: list[str]) -> int:
        """Queue the UNLINK of ``keys`` on ``pipe``; how many replies it will give. One
        command for them all on a single Redis (a client's cost is per command: 10,000 one-key
        UNLINKs were a quarter of an erase's CPU); one a key on a cluster, whose pipeline routes
        each to its slot's primary (a user's memories span slots)."""
        if self.keys.cluster:
            for key in keys:
                pipe.execute_command("UNLINK", key)
            return len(keys)
        pipe.execute_command("UNLINK", *keys)
        return 1

    async def sessions(
        self, namespace: str | None, user_id: str | None
    ) -> tuple[list[Session], int]:
        """Unlink the sessions of the scope; (the sessions found, how many of their keys still
        existed: a session past its TTL that Redis had not yet reclaimed is found, not counted)."""
        query = _scope(namespace, user_id)
        found: list[Session] = []
        unlinked = 0
        while keys := await self._page(self.working_index, query, namespace):
            async with self.flat.pipeline(transaction=False) as pipe:
                for start in range(0, len(keys), UNLINK_CHUNK):
                    self._unlink(pipe, keys[start : start + UNLINK_CHUNK])
                removed = sum(int(n) for n in await pipe.execute())
            found += [Session(s, u, n) for n, u, s in map(self.keys.parse_working_memory, keys)]
            unlinked += removed
            if not removed:  # listed but gone: the index will not list them again
                break
        return found, unlinked

    async def memories(self, namespace: str | None, user_id: str | None) -> tuple[int, int]:
        """Unlink the long-term memories of the scope and their access counts: (memories,
        access counters) removed. The generation token is replaced after each page, so no
        process keeps counting what is gone (``store.longterm.cache``)."""
        query = _scope(namespace, user_id)
        memories = counters = 0
        while keys := await self._page(self.long_term_index, query, namespace):
            removed = 0
            for start in range(0, len(keys), UNLINK_CHUNK):
                chunk = keys[start : start + UNLINK_CHUNK]
                # One access hash and token on a single Redis; a namespace's on a cluster.
                hits: dict[str, list[str]] = {}
                for key in chunk:
                    hits.setdefault(self.keys.access_counts_of(key), []).append(key)
                async with self.flat.pipeline(transaction=False) as pipe:
                    unlinks = self._unlink(pipe, chunk)
                    for held, of in hits.items():
                        pipe.hdel(held, *map(self.keys.parse_memory, of))
                    for token in dict.fromkeys(map(self.keys.long_term_generation_of, chunk)):
                        pipe.set(token, secrets.token_hex(8))
                    replies = await pipe.execute()
                removed += sum(int(n) for n in replies[:unlinks])
                counters += sum(int(n) for n in replies[unlinks : unlinks + len(hits)])
            memories += removed
            if not removed:
                break
        return memories, counters

    async def session_documents(
        self, namespace: str | None, user_id: str | None, offset: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """A page of the scope's sessions from ``offset``, oldest first: (key, document)."""
        if self.keys.cluster:
            query = _scope(namespace, user_id)
            return await cluster.session_documents(
                self.redis, self.working_index, query, offset, self.page
            )
        reply: list[Any] = await self.flat.execute_command(
            "FT.SEARCH", self.working_index, _scope(namespace, user_id), "NOCONTENT",
            "SORTBY", "created_at", "ASC", "LIMIT", offset, self.page, "DIALECT", 2,
        )  # fmt: skip
        keys = [str(k) for k in reply[1:]]
        if not keys:
            return []
        raws = await self.flat.execute_command("JSON.MGET", *keys, "$")
        out = []
        for key, raw in zip(keys, raws, strict=True):
            if raw:  # None: expired or deleted since the search
                (doc,) = json.loads(raw)
                out.append((key, doc))
        return out

    async def memory_ids(
        self, namespace: str | None, user_id: str | None
    ) -> AsyncIterator[list[str]]:
        """The ids of the scope's memories, a page at a time, through an index cursor
        (FT.AGGREGATE WITHCURSOR): what an export reads costs the scope's memories, not every
        memory stored, and pages do not shift as memories are written meanwhile."""
        query, index = _scope(namespace, user_id), self.long_term_index
        if self.keys.cluster:
            pages = cluster.memory_keys(self.redis, index, query, namespace, self.page)
            async for keys in pages:
                yield list(map(self.keys.parse_memory, keys))
            return
        with backend_errors():
            rows, cursor = await self.flat.execute_command(
                "FT.AGGREGATE", index, query, "LOAD", 1, "@__key",
                "WITHCURSOR", "COUNT", self.page, "DIALECT", 2,
            )  # fmt: skip
        try:
            while True:
                ids = [self.keys.parse_memory(str(row[1])) for row in rows[1:] if row]
                if ids:
                    yield ids
                if not cursor:
                    return
                with backend_errors():
                    rows, cursor = await self.flat.execute_command(
                        "FT.CURSOR", "READ", index, cursor
                    )
        finally:
            if cursor:  # stopped early: free the cursor now, not after its idle timeout
                with backend_errors():
                    await self.flat.execute_command("FT.CURSOR", "DEL", index, cursor)

    async def count(self, namespace: str | None, user_id: str | None) -> tuple[int, int]:
        """(sessions, memories) of the scope as the indexes count them now."""
        query = _scope(namespace, user_id)
        counts = []
        for index in (self.working_index, self.long_term_index):
            if self.keys.cluster:
                counts.append(await cluster.count(self.redis, index, query, namespace))
                continue
            reply = await self.flat.execute_command(
                "FT.SEARCH", index, query, "LIMIT", 0, 0, "DIALECT", 2
            )
            counts.append(int(reply[0]))
        return counts[0], counts[1]
