"""Long-term memory documents on a Redis Cluster: ``MemoryDocuments``' methods when its keys
are a cluster's (``Keys(cluster=True)``), where a memory is ``mem:{<ns>}:<id>``, in its
namespace's slot with that namespace's generation token and access-count hash
(``Keys.long_term_generation_of``, ``access_counts_of``).

- A write takes its key from the document's namespace (a link from the linked memory's).
- A read, delete, touch or modify by id finds the key first (``located.keys_by_id``: every
  primary's index asked, a TAG lookup). Two namespaces may hold one id on a cluster: then
  their owners are read (one ``HMGET`` each) and the caller's ``within`` (the owners it may
  see, as the domain's ``visible``) keeps the first it accepts; without ``within``, or for an
  id held once, the first key found in sorted order (its caller checks its owner, as on a
  single Redis).
- A script or a MULTI names the keys of one slot only: ``READ`` and ``READ_RECORDS`` are
  called once per slot (each with that slot's access hash), all in one pipeline; an upsert
  with links is one MULTI per slot, the slots' MULTIs sent side by side; each slot written
  replaces its own token.
- A read whose node does not answer (it failed, or a replica took over) reads the slot map anew
  and is sent again, once; a write is not (a 503: not acknowledged).
- Scripts in a cluster pipeline are not loaded by redis-py (it sends ``EVALSHA`` only): they
  are loaded on every primary once, and a call a primary answers ``NOSCRIPT`` (restarted,
  failed over) is run again on its own, which loads it there.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as NodeDown
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as NodeSilent

from remem.store.longterm.layout import VECTOR, decode, encode, flat
from remem.store.longterm.located import found_keys, keys_by_id
from remem.store.longterm.rows import pairs
from remem.store.longterm.values import Link, Written
from remem.store.slots import key_slot

if TYPE_CHECKING:
    from remem.store.longterm.documents import MemoryDocuments

Within = Callable[[str | None, str | None], bool]  # the (namespace, user_id) a caller may see
Change = Callable[[dict[str, Any]], dict[str, Any] | None]
TOUCH_CHUNK = 8
Call = tuple[AsyncScript, list[str], list[Any]]


def owner_tag(value: Any) -> str:
    """A namespace or user_id as the ``UPSERT`` and ``LINK`` scripts compare it."""
    return "" if value is None else f"={value}"


def _text(value: bytes | None) -> str | None:
    return value.decode() if value else None


class Queue:
    """The commands of one cluster pipeline, its script calls remembered by position so that a
    ``NOSCRIPT`` answer is run again on its own."""

    def __init__(self, pipe: Any) -> None:
        self.pipe, self.size = pipe, 0
        self.calls: dict[int, Call] = {}

    def script(self, script: AsyncScript, keys: list[str], args: list[Any]) -> None:
        self.pipe.evalsha(script.sha, len(keys), *keys, *args)
        self.calls[self.size] = (script, keys, args)
        self.size += 1

    def command(self, name: str, *args: Any) -> None:
        getattr(self.pipe, name)(*args)
        self.size += 1

    async def execute(self) -> list[Any]:
        replies: list[Any] = await self.pipe.execute(raise_on_error=False)
        for position, reply in enumerate(replies):
            if isinstance(reply, NoScriptError) and position in self.calls:
                script, keys, args = self.calls[position]
                replies[position] = await script(keys=keys, args=args)  # loads it there
            elif isinstance(reply, Exception):
                raise reply
        return replies


class ClusterDocuments:
    """``MemoryDocuments`` on a cluster's keys (the module)."""

    def __init__(
        self,
        documents: MemoryDocuments,
        plain: Redis,
        index: str,
        modify_at: Callable[[str, str, Change], Awaitable[dict[str, Any] | None]],
    ) -> None:
        self.d, self.plain, self.index, self.modify_at = documents, plain, index, modify_at
        self.keys, self.redis = documents.keys, documents.redis
        self.loaded = False

    async def pipeline(self) -> Queue:
        """A queue of a new pipeline (not a MULTI), the scripts loaded on every primary."""
        if not self.loaded:
            for script in (self.d._upsert, self.d._insert, self.d._touch, self.d._read):
                await self.redis.script_load(script.script)  # every primary
            await self.redis.script_load(self.d._read_records.script)
            await self.redis.script_load(self.d._link.script)
            self.loaded = True
        return Queue(self.redis.pipeline(transaction=False))

    def tokens(self, queue: Queue, keys: Sequence[str]) -> None:
        """Queue a new generation token for each slot of ``keys`` (their namespaces')."""
        for token in dict.fromkeys(self.keys.long_term_generation_of(k) for k in keys):
            queue.command("set", token, secrets.token_hex(8))

    async def located(self, ids: Sequence[str], within: Within | None) -> list[str | None]:
        """The key of each id (None: no memory the caller may reach has it): the one this
        request's search was given for it (``located.found_keys``), else found by id."""
        found = found_keys(ids)
        if missing := [memory_id for memory_id in ids if memory_id not in found]:
            found |= await keys_by_id(self.plain, self.keys, self.index, missing)
        shared = [k for held in found.values() if len(held) > 1 for k in held]
        if within is not None and shared:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in shared:
                    pipe.hmget(key, "namespace", "user_id")
                owners = dict(zip(shared, await pipe.execute(), strict=True))
            seen = {k for k, (ns, user) in owners.items() if within(_text(ns), _text(user))}
            found = {
                i: [k for k in held if len(held) == 1 or k in seen] for i, held in found.items()
            }
        return [found[memory_id][0] if found[memory_id] else None for memory_id in ids]

    # -- writes ----------------------------------------------------------------------------------
    def queue_upsert(self, queue: Queue, doc: dict[str, Any]) -> str:
        key = self.keys.memory(doc["id"], doc.get("namespace"))
        owner = [owner_tag(doc.get("namespace")), owner_tag(doc.get("user_id"))]
        queue.script(self.d._upsert, [key], [*owner, *flat(encode(doc))])
        return key

    async def upsert_many(
        self, docs: Sequence[dict[str, Any]], links: Sequence[Link]
    ) -> list[Written]:
        """``MemoryDocuments.upsert_many``: with links, one MULTI per slot (side by side)."""
        if not links:
            queue = await self.pipeline()
            self.tokens(queue, [self.queue_upsert(queue, doc) for doc in docs])
            replies = (await queue.execute())[: len(docs)]
        else:
            replies = await self.upsert_linked(docs, links)
        return [
            Written(None, refused=True)
            if not int(r[0])
            else Written(float(r[1]) if len(r) > 1 else None)
            for r in replies
        ]

    async def upsert_linked(
        self, docs: Sequence[dict[str, Any]], links: Sequence[Link]
    ) -> list[Any]:
        """The upserts' replies, each slot's documents and links written in one MULTI."""
        await self.pipeline()  # the scripts loaded
        slots: dict[int, tuple[list[int], list[Link]]] = defaultdict(lambda: ([], []))
        for position, doc in enumerate(docs):
            slots[key_slot(self.keys.memory(doc["id"], doc.get("namespace")))][0].append(position)
        for link in links:
            slots[key_slot(self.keys.memory(link.memory_id, link.namespace))][1].append(link)
        replies: list[Any] = [None] * len(docs)

        async def one_slot(positions: list[int], linked: list[Link]) -> None:
            while True:
                queue = Queue(self.redis.pipeline(transaction=True))
                written = [self.queue_upsert(queue, docs[p]) for p in positions]
                for link in linked:
                    written.append(self.queue_link(queue, link))
                self.tokens(queue, written)
                try:
                    found = await queue.pipe.execute()
                except NoScriptError:  # a primary lost its scripts: load them, write again
                    self.loaded = False  # (upserts and links are idempotent)
                    await self.pipeline()
                    continue
                for position, reply in zip(positions, found, strict=False):
                    replies[position] = reply
                return

        await asyncio.gather(*(one_slot(*group) for group in slots.values()))
        return replies

    def queue_link(self, queue: Queue, link: Link) -> str:
        key = self.keys.memory(link.memory_id, link.namespace)
        owner = [owner_tag(link.namespace), owner_tag(link.user_id)]
        invalid = "" if link.invalid_at is None else json.dumps(link.invalid_at)
        args = [*owner, link.field, link.other, invalid, json.dumps(link.at)]
        queue.script(self.d._link, [key], args)
        return key

    async def insert_new(self, docs: Sequence[dict[str, Any]]) -> list[bool]:
        queue = await self.pipeline()
        written = []
        for doc in docs:
            key = self.keys.memory(doc["id"], doc.get("namespace"))
            queue.script(self.d._insert, [key], flat(encode(doc)))
            written.append(key)
        self.tokens(queue, written)
        return [bool(int(r)) for r in (await queue.execute())[: len(docs)]]

    # -- reads -----------------------------------------------------------------------------------
    async def by_slot(
        self, keys: Sequence[str | None], call: Callable[[Queue, list[str]], None]
    ) -> list[Any]:
        """One ``call`` per slot of ``keys`` (its keys), in one pipeline: the reply of each key
        in order (its call's answer a list, one value a key), None for a key that is None."""
        groups: dict[int, list[int]] = defaultdict(list)
        for position, key in enumerate(keys):
            if key is not None:
                groups[key_slot(key)].append(position)
        out: list[Any] = [None] * len(keys)
        if not groups:
            return out

        async def ask() -> list[Any]:
            queue = await self.pipeline()
            for positions in groups.values():
                call(queue, [keys[p] for p in positions])  # type: ignore[misc]
            return await queue.execute()

        try:
            replies = await ask()
        except (NodeDown, NodeSilent):  # a node failed or was failed over: a read is asked again
            await self.redis.nodes_manager.initialize()  # type: ignore[attr-defined]
            replies = await ask()
        for positions, reply in zip(groups.values(), replies, strict=True):
            for position, value in zip(positions, reply, strict=True):
                out[position] = value
        return out

    async def read(self, ids: Sequence[str], names: list[str], within: Within | None) -> list[Any]:
        """``READ`` of each id's memory: one call per slot."""
        keys = await self.located(ids, within)
        return await self.by_slot(keys, lambda q, ks: q.script(self.d._read, ks, list(names)))

    async def get_many(
        self, ids: Sequence[str], within: Within | None
    ) -> list[dict[str, Any] | None]:
        return [decode(pairs(row)) if row else None for row in await self.read(ids, [], within)]

    async def records(
        self, ids: Sequence[str], names: list[str], within: Within | None
    ) -> list[Any]:
        """``READ_RECORDS`` of each id's memory: one call per slot, with its access hash."""
        keys = await self.located(ids, within)
        hits = "access_count" in names

        def call(queue: Queue, held: list[str]) -> None:
            added = [self.keys.parse_memory(k) for k in held] if hits else []
            args = [len(names), *names, *added]
            queue.script(self.d._read_records, [self.keys.access_counts_of(held[0]), *held], args)

        return await self.by_slot(keys, call)

    async def vectors(self, ids: Sequence[str], within: Within | None) -> list[Any]:
        keys = await self.located(ids, within)
        rows = await self.by_slot(keys, lambda q, ks: q.script(self.d._read, ks, [VECTOR]))
        return [row[0] if row else None for row in rows]

    async def access_counts(self, ids: Sequence[str], within: Within | None) -> list[int]:
        keys = await self.located(ids, within)

        def call(queue: Queue, held: list[str]) -> None:
            added = [self.keys.parse_memory(k) for k in held]
            queue.command("hmget", self.keys.access_counts_of(held[0]), added)

        return [int(n or 0) for n in await self.by_slot(keys, call)]

    async def scan_ids(self, batch: int) -> AsyncIterator[list[str]]:
        """Every memory's id, a batch at a time, from every primary; an id several namespaces
        hold once, at its first key (each batch's ids looked up in the index), so a reader
        by id reads it in the namespace its ``within`` picks."""
        found: list[str] = []
        async for key in self.redis.scan_iter(
            match=f"{self.keys.memory_prefix}*", count=batch, _type="hash"
        ):
            found.append(key.decode() if isinstance(key, bytes) else key)
            if len(found) >= batch:
                yield await self.first_keys(found)
                found = []
        if found:
            yield await self.first_keys(found)

    async def first_keys(self, keys: list[str]) -> list[str]:
        """The ids of ``keys`` whose key is their id's first (or not yet indexed)."""
        ids = [self.keys.parse_memory(key) for key in keys]
        held = await keys_by_id(self.plain, self.keys, self.index, ids)
        return [i for key, i in zip(keys, ids, strict=True) if held[i][:1] in ([], [key])]

    # -- deletes, edits, hits --------------------------------------------------------------------
    async def delete_many(self, ids: Sequence[str], within: Within | None) -> int:
        unique = list(dict.fromkeys(ids))
        keys = [k for k in await self.located(unique, within) if k is not None]
        if not keys:
            return 0
        queue = await self.pipeline()
        for key in keys:
            queue.command("execute_command", "UNLINK", key)  # its method is multi-key here
        by_hash: dict[str, list[str]] = defaultdict(list)
        for key in keys:
            by_hash[self.keys.access_counts_of(key)].append(self.keys.parse_memory(key))
        for hits, held in by_hash.items():
            queue.command("hdel", hits, *held)
        self.tokens(queue, keys)
        return sum(int(n) for n in (await queue.execute())[: len(keys)])

    async def modify(
        self, memory_id: str, change: Change, within: Within | None
    ) -> dict[str, Any] | None:
        (key,) = await self.located([memory_id], within)
        if key is None:
            return None
        return await self.modify_at(key, self.keys.long_term_generation_of(key), change)

    async def touch_many(
        self,
        hits: dict[str, tuple[int, float]],
        resolution: float,
        within: Within | None,
        namespaces: Mapping[str, str | None] | None,
    ) -> int:
        """``MemoryDocuments.touch_many``: the same two round trips a chunk, each memory's
        count added to its namespace's hash; its key named by the namespace it was hit in when
        given (no lookup on every primary), else found by id."""
        items = list(hits.items())
        ids = [memory_id for memory_id, _ in items]
        if namespaces is None:
            keys = await self.located(ids, within)
        else:
            keys = [self.keys.memory(i, namespaces[i]) for i in ids]
        held = [
            (key, count, when) for key, (_, (count, when)) in zip(keys, items, strict=True) if key
        ]
        written = 0
        for start in range(0, len(held), TOUCH_CHUNK):
            chunk = held[start : start + TOUCH_CHUNK]
            queue = await self.pipeline()
            for key, _, when in chunk:
                queue.script(self.d._touch, [key], [repr(when), repr(resolution)])
            states = [int(r) for r in await queue.execute()]
            found = [(k, n) for (k, n, _), state in zip(chunk, states, strict=True) if state]
            if not found:
                continue
            queue = await self.pipeline()
            for key, count in found:
                queue.command(
                    "hincrby", self.keys.access_counts_of(key), self.keys.parse_memory(key), count
                )
            self.tokens(queue, [k for (k, _, _), s in zip(chunk, states, strict=True) if s == 2])
            await queue.execute()
            written += states.count(2)
        return written
