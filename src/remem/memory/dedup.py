"""Deduplication of long-term memories.

Rules, in the order they are tried when a memory is created:

1. **Same id**: the stored memory is updated in place and keeps its ``created_at``; the same id in
   another namespace or for another user is a ``Conflict``.
2. **Same hash** (sha256 of text, namespace, user_id, memory_type): the new memory is not stored,
   the existing id is returned. (A pinned newcomer pins the existing memory.)
3. **Semantic**: the nearest memory of the same namespace *and* user whose cosine distance is at
   most the threshold (default 0.05) absorbs the newcomer: it keeps its id and text, gains the
   newcomer's topics and entities, and its ``updated_at`` moves. Pinned memories never absorb
   and are never absorbed; nothing is merged across namespaces or users.

``compact`` applies rules 2 and 3 to memories already stored, the older memory absorbing the
newer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from remem.memory.filters import scope_clauses
from remem.store.longterm import LongTermStore, Row
from remem.store.query import conjunction, tag_equals, tag_not

DEFAULT_SEMANTIC_THRESHOLD = 0.05
_PAGE = 1_000


def memory_hash(text: str, namespace: str | None, user_id: str | None, memory_type: str) -> str:
    """Identity of a memory's content within its scope."""
    canon = json.dumps([text, namespace or "", user_id or "", memory_type], ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def union(*lists: Iterable[str] | None) -> list[str]:
    """The values of all lists, first occurrence first."""
    return list(dict.fromkeys(v for values in lists if values for v in values))


def absorb(existing: dict[str, Any], newcomer: dict[str, Any], now: float) -> dict[str, Any]:
    """``existing`` after absorbing ``newcomer``: same id and text, topics/entities joined."""
    merged = dict(existing)
    merged["topics"] = union(existing.get("topics"), newcomer.get("topics"))
    merged["entities"] = union(existing.get("entities"), newcomer.get("entities"))
    merged["updated_at"] = now
    return merged


def same_scope(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a.get("namespace"), a.get("user_id")) == (b.get("namespace"), b.get("user_id"))


@dataclass
class Deduplicator:
    store: LongTermStore
    threshold: float = DEFAULT_SEMANTIC_THRESHOLD

    async def by_hash(self, doc: dict[str, Any]) -> str | None:
        """The oldest stored memory with the same hash in the same scope, if any."""
        query = conjunction(
            [
                tag_equals("memory_hash", doc["memory_hash"]),
                *scope_clauses(doc.get("namespace"), doc.get("user_id")),
            ]
        )
        rows = await self.store.oldest(query, 1)
        return rows[0].id if rows else None

    async def nearest(self, doc: dict[str, Any], vector: np.ndarray) -> str | None:
        """The nearest unpinned memory of the same scope within the threshold, if any."""
        if doc.get("pinned"):
            return None
        query = conjunction(
            [
                *scope_clauses(doc.get("namespace"), doc.get("user_id")),
                tag_not("pinned", ["true"]),
                tag_not("id", [doc["id"]]),
            ]
        )
        found = await self.store.nearest(query, vector, 1, max_distance=self.threshold)
        return found[0].id if found else None

    async def merge_into(self, target_id: str, newcomer: dict[str, Any], now: float) -> bool:
        """Let the stored ``target_id`` absorb ``newcomer``; False if it is gone or pinned."""

        def change(existing: dict[str, Any]) -> dict[str, Any] | None:
            if existing.get("pinned") or not same_scope(existing, newcomer):
                return None
            return absorb(existing, newcomer, now)

        return await self.store.modify(target_id, change) is not None

    async def pin(self, memory_id: str, now: float) -> None:
        def change(existing: dict[str, Any]) -> dict[str, Any] | None:
            if existing.get("pinned"):
                return None
            return {**existing, "pinned": True, "updated_at": now}

        await self.store.modify(memory_id, change)

    # -- compaction --------------------------------------------------------------------------
    async def _rows(self, query: str) -> list[Row]:
        rows: list[Row] = []
        while True:
            page = await self.store.oldest(query, _PAGE, len(rows))
            rows += page
            if len(page) < _PAGE:
                return rows

    async def compact(self, namespace: str | None, user_id: str | None, now: float) -> int:
        """Merge hash duplicates, then semantic duplicates; return how many memories remain."""
        query = conjunction(
            [
                tag_equals("namespace", namespace) if namespace else "",
                tag_equals("user_id", user_id) if user_id else "",
            ]
        )
        rows = await self._rows(query)
        groups: dict[str, list[Row]] = {}
        for row in rows:  # oldest first
            groups.setdefault(row.memory_hash, []).append(row)
        doomed: list[str] = []
        for group in groups.values():  # pinned copies stay; else the oldest copy stays
            unpinned = [r.id for r in group if not r.pinned]
            doomed += unpinned if len(unpinned) < len(group) else unpinned[1:]
        await self.store.delete_many(doomed)

        gone: set[str] = set(doomed)
        survivors = [r for r in rows if r.id not in gone]
        for row in survivors:
            if row.pinned or row.id in gone:
                continue
            doc = (await self.store.get_many([row.id]))[0]
            if doc is None:
                continue
            vector = np.asarray(doc["embedding"], dtype=np.float32)
            scope = conjunction(
                [
                    *scope_clauses(doc.get("namespace"), doc.get("user_id")),
                    tag_not("pinned", ["true"]),
                    tag_not("id", [row.id]),
                ]
            )
            near = await self.store.nearest(scope, vector, 20, max_distance=self.threshold)
            newer = [c.id for c in near if c.id not in gone]
            if not newer:
                continue
            for other in await self.store.get_many(newer):
                if other is not None and await self.merge_into(row.id, other, now):
                    gone.add(other["id"])
                    await self.store.delete_many([other["id"]])
        return await self.store.count(query)
