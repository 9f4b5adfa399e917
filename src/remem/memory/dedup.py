"""Deduplication of long-term memories.

Rules, in the order they are tried when a memory is created:

1. **Same id**: the stored memory is updated in place and keeps its ``created_at``; the same id in
   another namespace or for another user is a ``Conflict`` (checked atomically with the write by
   the store's upsert script, so concurrent creators cannot take an id over).
2. **Same text**: a memory whose text is the same after normalisation (``normalise``: Unicode
   NFKC, case folded, whitespace collapsed, sentence punctuation dropped) in the same namespace,
   user and memory type is not stored; the existing id is returned and the existing memory gains
   the newcomer's topics and entities (unless it is pinned). A pinned newcomer pins it.
3. **Similar**: only with a merge decision (``Decide``, an LLM's judgement in a later version).
   The nearest unpinned memory of the same namespace and user within ``radius`` is offered to it,
   and absorbs the newcomer if the decision says they state the same fact. Without a decision
   nothing merges on similarity: an embedding distance cannot tell a duplicate from a fact that
   differs in a number, a day, a name or a negation (the static model puts "Meeting with Anna at
   3pm on Monday" 0.000005 from "... at 4pm on Monday" and 0.010 from "... on Tuesday"; at its
   former threshold of 0.03, 32 of the 131 texts of tests/longterm/test_near_miss.py were merged
   away).

Pinned memories never absorb and are never absorbed; nothing is merged across namespaces or users.
``compact`` applies rules 2 and 3 to memories already stored, the older memory absorbing the newer.

``memory_hash`` is the sha256 of [normalised text, namespace, user_id, memory_type]. Memories
written before it was normalised hold the hash of their text as written; a lookup asks for both
hashes, so an exact copy of such a memory is still found, and ``compact`` rewrites old hashes.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from remem.memory.filters import scope
from remem.store.longterm import LongTermStore, Row
from remem.store.query import Filter, TagIn, every, tag_is

DEFAULT_CANDIDATE_DISTANCE = 0.05
_PAGE = 1_000

# Punctuation that only shapes a sentence. Between two digits it is part of a number ("3.5",
# "1,200", "9:30") and stays. Signs, units and symbols ("-5", "%", "$", "/", "#") always stay.
_SOFT = r"""[.,;:!?"'`()\[\]{}¡¿«»‹›‘’‚‛“”„‟「」『』、。]"""  # noqa: RUF001
_SENTENCE_PUNCTUATION = re.compile(rf"(?<!\d){_SOFT}|{_SOFT}(?!\d)")

# Whether ``newcomer`` states the same fact as the stored ``candidate`` (then it absorbs it).
Decide = Callable[[dict[str, Any], dict[str, Any]], Awaitable[bool]]


def normalise(text: str) -> str:
    """``text`` as deduplication compares it: NFKC, case folded, sentence punctuation turned into
    spaces, whitespace runs into one space, no edge spaces. Idempotent."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(_SENTENCE_PUNCTUATION.sub(" ", folded).split())


def _sha(text: str, namespace: str | None, user_id: str | None, memory_type: str) -> str:
    canon = json.dumps([text, namespace or "", user_id or "", memory_type], ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def memory_hash(text: str, namespace: str | None, user_id: str | None, memory_type: str) -> str:
    """Identity of a memory's content within its scope: its normalised text there."""
    return _sha(normalise(text), namespace, user_id, memory_type)


def hashes_of(text: str, namespace: str | None, user_id: str | None, memory_type: str) -> list[str]:
    """The hashes a stored copy of ``text`` may carry: today's, and the one of the text as
    written that memories stored before normalisation hold (the same when the text is already
    normalised)."""
    return list(
        dict.fromkeys(
            [
                memory_hash(text, namespace, user_id, memory_type),
                _sha(text, namespace, user_id, memory_type),
            ]
        )
    )


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


def fold(existing: dict[str, Any], copy: dict[str, Any], now: float) -> dict[str, Any] | None:
    """``existing`` after taking in ``copy`` of its text (rule 2), None when nothing changes: a
    pinned copy pins it; an unpinned memory gains the copy's topics and entities."""
    pin = bool(copy.get("pinned")) and not existing.get("pinned")
    if existing.get("pinned") and not pin:
        return None
    merged = absorb(existing, copy, now)
    merged["pinned"] = bool(existing.get("pinned")) or pin
    same = all(merged.get(k) == existing.get(k) for k in ("topics", "entities", "pinned"))
    return None if same else merged


def _others_unpinned(doc: dict[str, Any], memory_id: str) -> Filter:
    """The unpinned memories of ``doc``'s namespace and user, other than ``memory_id``."""
    return every(
        scope(doc.get("namespace"), doc.get("user_id")),
        ~TagIn("pinned", ("true",)),
        ~TagIn("id", (memory_id,)),
    )


def same_scope(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a.get("namespace"), a.get("user_id")) == (b.get("namespace"), b.get("user_id"))


@dataclass
class Deduplicator:
    store: LongTermStore
    radius: float = DEFAULT_CANDIDATE_DISTANCE  # how near a candidate for ``decide`` must be
    decide: Decide | None = None  # None: nothing merges on similarity (rule 3 is off)

    async def by_hash(self, doc: dict[str, Any]) -> str | None:
        """The oldest stored memory with the same normalised text in the same scope, if any."""
        hashes = hashes_of(
            doc["text"], doc.get("namespace"), doc.get("user_id"), doc["memory_type"]
        )
        query = TagIn("memory_hash", tuple(hashes)) & scope(
            doc.get("namespace"), doc.get("user_id")
        )
        rows = await self.store.index.oldest(query, 1)
        return rows[0].id if rows else None

    async def fold_into(self, target_id: str, copy: dict[str, Any], now: float) -> bool:
        """Let the stored ``target_id`` take in ``copy`` of its text; False if it is gone."""
        found = False

        def change(existing: dict[str, Any]) -> dict[str, Any] | None:
            nonlocal found
            found = same_scope(existing, copy)
            return fold(existing, copy, now) if found else None

        await self.store.documents.modify(target_id, change)
        return found

    # -- similar memories (rule 3, only with a decision) --------------------------------------
    async def similar_pending(
        self,
        doc: dict[str, Any],
        vector: np.ndarray,
        pending: dict[str, dict[str, Any]],
        vector_of: dict[str, np.ndarray],
    ) -> str | None:
        """The memory of this request that should absorb ``doc``, if the decision says so."""
        if self.decide is None or doc.get("pinned"):
            return None
        best, best_dist = None, self.radius
        for memory_id, other in pending.items():
            if other.get("pinned") or not same_scope(other, doc):
                continue
            dist = 1.0 - float(np.dot(vector_of[memory_id], vector))
            if dist <= best_dist:
                best, best_dist = memory_id, dist
        if best is None or not await self.decide(doc, pending[best]):
            return None
        return best

    async def similar_stored(self, doc: dict[str, Any], vector: np.ndarray) -> str | None:
        """The stored memory that should absorb ``doc``, if the decision says so."""
        if self.decide is None or doc.get("pinned"):
            return None
        query = _others_unpinned(doc, doc["id"])
        found = await self.store.index.nearest(query, vector, 1, max_distance=self.radius)
        if not found:
            return None
        (candidate,) = await self.store.documents.get_many([found[0].id])
        if candidate is None or not await self.decide(doc, candidate):
            return None
        return found[0].id

    async def merge_into(self, target_id: str, newcomer: dict[str, Any], now: float) -> bool:
        """Let the stored ``target_id`` absorb ``newcomer``; False if it is gone or pinned."""

        def change(existing: dict[str, Any]) -> dict[str, Any] | None:
            if existing.get("pinned") or not same_scope(existing, newcomer):
                return None
            return absorb(existing, newcomer, now)

        return await self.store.documents.modify(target_id, change) is not None

    # -- compaction --------------------------------------------------------------------------
    async def _rows(self, query: Filter) -> list[Row]:
        rows: list[Row] = []
        while True:
            page = await self.store.index.oldest(query, _PAGE, len(rows))
            rows += page
            if len(page) < _PAGE:
                return rows

    async def _hashes(self, rows: list[Row]) -> dict[str, str]:
        """Today's ``memory_hash`` of each memory, from its text (an older memory may hold the
        hash of its text as written)."""
        out: dict[str, str] = {}
        for start in range(0, len(rows), _PAGE):
            page = rows[start : start + _PAGE]
            docs = await self.store.documents.get_fields([r.id for r in page], ("text",))
            for row, doc in zip(page, docs, strict=True):
                if doc is not None and isinstance(doc.get("text"), str):
                    out[row.id] = memory_hash(
                        doc["text"], row.namespace, row.user_id, row.memory_type
                    )
        return out

    async def _keep(self, memory_id: str, copies: list[str], digest: str, now: float) -> None:
        """The kept memory of a group takes in its copies' topics and entities (unless pinned)
        and today's hash, in one write when something changes."""
        others = [d for d in await self.store.documents.get_many(copies) if d is not None]

        def change(existing: dict[str, Any]) -> dict[str, Any] | None:
            new = dict(existing)
            for other in [] if existing.get("pinned") else others:
                new = absorb(new, other, now)
            new["memory_hash"] = digest
            keys = ("topics", "entities", "memory_hash")
            return None if all(new.get(k) == existing.get(k) for k in keys) else new

        await self.store.documents.modify(memory_id, change)

    async def compact(self, namespace: str | None, user_id: str | None, now: float) -> int:
        """Merge copies of the same normalised text, then (with a decision) similar memories;
        return how many memories remain."""
        query = every(tag_is("namespace", namespace or None), tag_is("user_id", user_id or None))
        rows = await self._rows(query)
        digests = await self._hashes(rows)
        groups: dict[str, list[Row]] = {}
        for row in rows:  # oldest first
            groups.setdefault(digests.get(row.id, row.memory_hash), []).append(row)
        doomed: list[str] = []
        for digest, group in groups.items():  # pinned copies stay; else the oldest copy stays
            unpinned = [r.id for r in group if not r.pinned]
            copies = unpinned if len(unpinned) < len(group) else unpinned[1:]
            for kept in (r for r in group if r.id not in copies):
                if copies or kept.memory_hash != digest:
                    await self._keep(kept.id, copies, digest, now)
            doomed += copies
        await self.store.documents.delete_many(doomed)
        if self.decide is not None:
            await self._merge_similar([r for r in rows if r.id not in set(doomed)], now)
        return await self.store.index.count(query)

    async def _merge_similar(self, survivors: list[Row], now: float) -> None:
        gone: set[str] = set()
        for row in survivors:
            if row.pinned or row.id in gone:
                continue
            (doc,) = await self.store.documents.get_many([row.id])
            if doc is None:
                continue
            vector = np.asarray(doc["embedding"], dtype=np.float32)
            others = _others_unpinned(doc, row.id)
            near = await self.store.index.nearest(others, vector, 20, max_distance=self.radius)
            newer = [c.id for c in near if c.id not in gone]
            for other in await self.store.documents.get_many(newer):
                if other is None or self.decide is None or not await self.decide(other, doc):
                    continue
                if await self.merge_into(row.id, other, now):
                    gone.add(other["id"])
                    await self.store.documents.delete_many([other["id"]])
