"""Compaction: ``Deduplicator``'s rules 2 and 3 (``memory.dedup``) applied to the memories
already stored in one scope (a namespace and user), the older memory absorbing the newer: copies
of the same normalised text first (the oldest unpinned copy kept, taking in the others' topics
and entities and today's hash), then, with a judge, similar memories. A memory in a chain of
versions (it supersedes or is superseded) is never merged away, so no chain breaks. Every read,
change and delete by id names the scope (``dedup.owner_is``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from remem.errors import RememError
from remem.memory.dedup import Deduplicator, Owner, absorb, mergeable, merging, owner_is
from remem.memory.sameness import memory_hash, placed_like
from remem.store.longterm import Row
from remem.store.query import Filter, TagIn, every, tag_is

log = logging.getLogger(__name__)
_PAGE = 1_000


def _others_unpinned(doc: dict[str, Any], memory_id: str) -> Filter:
    """The unpinned memories of ``doc``'s namespace, user and place, other than ``memory_id``."""
    return every(placed_like(doc), ~TagIn("pinned", ("true",)), ~TagIn("id", (memory_id,)))


@dataclass
class Compaction:
    dedup: Deduplicator

    async def _rows(self, query: Filter) -> list[Row]:
        rows: list[Row] = []
        while True:
            page = await self.dedup.store.index.oldest(query, _PAGE, len(rows))
            rows += page
            if len(page) < _PAGE:
                return rows

    async def _hashes(self, rows: list[Row], owner: Owner) -> dict[str, str]:
        """Today's ``memory_hash`` of each memory, from its text (an older memory may hold the
        hash of its text as written)."""
        out: dict[str, str] = {}
        for start in range(0, len(rows), _PAGE):
            page = rows[start : start + _PAGE]
            docs = await self.dedup.store.documents.get_fields(
                [r.id for r in page], ("text",), owner
            )
            for row, doc in zip(page, docs, strict=True):
                if doc is not None and isinstance(doc.get("text"), str):
                    out[row.id] = memory_hash(
                        doc["text"], row.namespace, row.user_id, row.memory_type, row.place
                    )
        return out

    async def _keep(
        self, memory_id: str, copies: list[str], digest: str, now: float, owner: Owner
    ) -> None:
        """The kept memory of a group takes in its copies' topics and entities (unless pinned)
        and today's hash, in one write when something changes."""
        others = [
            d for d in await self.dedup.store.documents.get_many(copies, owner) if d is not None
        ]

        def change(existing: dict[str, Any]) -> dict[str, Any] | None:
            new = dict(existing)
            for other in [] if existing.get("pinned") else others:
                new = absorb(new, merging(other, other.get("origin") != "server"), now)
            new["memory_hash"] = digest
            keys = ("topics", "entities", "memory_hash", "merged_ids")
            return None if all(new.get(k) == existing.get(k) for k in keys) else new

        await self.dedup.store.documents.modify(memory_id, change, owner)

    async def compact(self, namespace: str | None, user_id: str | None, now: float) -> int:
        """Merge copies of the same normalised text, then (with a decision) similar memories;
        return how many memories remain."""
        query = every(tag_is("namespace", namespace or None), tag_is("user_id", user_id or None))
        owner = owner_is(namespace or None, user_id or None)
        rows = await self._rows(query)
        digests = await self._hashes(rows, owner)
        groups: dict[str, list[Row]] = {}
        for row in rows:  # oldest first
            groups.setdefault(digests.get(row.id, row.memory_hash), []).append(row)
        doomed: list[str] = []
        for digest, group in groups.items():  # pinned copies stay; else the oldest copy stays
            unpinned = [r.id for r in group if not r.pinned and not r.linked]  # chains stay
            copies = unpinned if len(unpinned) < len(group) else unpinned[1:]
            for kept in (r for r in group if r.id not in copies):
                if copies or kept.memory_hash != digest:
                    await self._keep(kept.id, copies, digest, now, owner)
            doomed += copies
        await self.dedup.store.documents.delete_many(doomed, owner)
        if self.dedup.judge is not None:
            await self._merge_similar([r for r in rows if r.id not in set(doomed)], now, owner)
        return await self.dedup.store.index.count(query)

    async def _merge_similar(self, survivors: list[Row], now: float, owner: Owner) -> None:
        gone: set[str] = set()
        for row in survivors:
            if row.pinned or row.linked or row.id in gone:
                continue
            (doc,) = await self.dedup.store.documents.get_many([row.id], owner)
            if doc is None:
                continue
            vector = np.asarray(doc["embedding"], dtype=np.float32)
            others = _others_unpinned(doc, row.id)
            near = await self.dedup.near(others, vector, 20)
            newer = [memory_id for _, memory_id in near if memory_id not in gone]
            newer_docs = [
                o
                for o in await self.dedup.store.documents.get_many(newer, owner)
                if o and mergeable(o)
            ]
            if not newer_docs or self.dedup.judge is None:
                continue
            try:
                verdicts = await self.dedup.judge([(other, doc) for other in newer_docs])
            except RememError as exc:
                log.warning("compaction kept similar memories apart (%s)", exc.detail)
                continue
            for other, verdict in zip(newer_docs, verdicts, strict=True):
                if verdict != "same":  # the older memory stays as it is otherwise
                    continue
                remember = other.get("origin") != "server"
                if await self.dedup.merge_into(row.id, merging(other, remember), now):
                    gone.add(other["id"])
                    await self.dedup.store.documents.delete_many([other["id"]], owner)
