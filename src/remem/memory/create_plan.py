"""What one create request will write: the request's memories after deduplication and the
links between versions (facts that change), and what became of each record.

``LongTermMemoryService.create`` validates and embeds the records, then hands them to a
``Plan`` one by one (``add``), asks the judge about the similar ones, and writes
``Plan.pending`` with ``Plan.versions``' links in one MULTI. The rules are ``memory.dedup``'s
and ``memory.validity``'s; this module only keeps the request's state while they are applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from remem.memory.dedup import (
    Deduplicator,
    Verdict,
    absorb,
    client_chosen,
    fold,
    merging,
    refine,
    union,
)
from remem.memory.observed import count_writes
from remem.memory.validity import link_to_stored, outdate, supersede, valid_from
from remem.models.memory import MemoryRecord
from remem.store.longterm import Link, MemoryDocuments

Status = Literal["created", "updated", "duplicate", "merged"]
# What a check of versions reads of a stored memory.
VERSION_FIELDS = ("id", "namespace", "user_id", "valid_at", "event_date", "created_at")


@dataclass(frozen=True)
class Created:
    """What became of one record of a create request."""

    id: str  # the memory that now holds the record (the existing one for duplicates/merges)
    status: Status
    supersedes: tuple[str, ...] = ()  # memories this one superseded
    superseded_by: tuple[str, ...] = ()  # it arrived already superseded by these
    similar: tuple[str, ...] = ()  # judged different from these near memories: both kept


def keep_history(doc: dict[str, Any], old: dict[str, Any], sent: set[str]) -> None:
    """A stored memory written again under its id keeps what the server knows of it: its
    place in a chain of versions (``superseded_by`` and what the record does not send of
    ``supersedes``, ``valid_at``, ``invalid_at``), the ids merged into it and its ``origin``. A
    client that re-sends a memory it read (the official client has none of these fields) must
    not break its history."""
    doc["superseded_by"] = union(old.get("superseded_by"), doc.get("superseded_by")) or None
    doc["merged_ids"] = union(old.get("merged_ids"), doc.get("merged_ids")) or None
    for name in ("supersedes", "valid_at", "invalid_at"):
        if name not in sent and old.get(name) is not None:
            doc[name] = old[name]
    if old.get("origin") and not doc.get("origin"):
        doc["origin"] = old["origin"]


@dataclass
class Plan:
    dedup: Deduplicator
    documents: MemoryDocuments
    at: float
    ids: set[str]  # the request's ids
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> document to write
    vector_of: dict[str, np.ndarray] = field(default_factory=dict)
    by_hash: dict[str, str] = field(default_factory=dict)
    # Request id -> the stored memory with its text, asked for all at once (``stored_twins``).
    twins: dict[str, str] = field(default_factory=dict)
    # Copies of a memory this request writes: folded in once its final text is known.
    copies: list[tuple[int, str, dict[str, Any], np.ndarray]] = field(default_factory=list)
    merges: list[tuple[int, str, dict[str, Any], Verdict]] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # new memories the judge compares
    position_of: dict[str, int] = field(default_factory=dict)
    remembered: set[str] = field(default_factory=set)  # ids a caller sent: kept if merged
    similar: dict[str, str] = field(default_factory=dict)  # judged different from this one
    out: list[Created] = field(default_factory=list)
    redirect: dict[str, str] = field(default_factory=dict)  # merged memory -> its home

    def _keep(self, doc: dict[str, Any], vector: np.ndarray, status: Status) -> None:
        memory_id = doc["id"]
        self.position_of[memory_id] = len(self.out)
        self.pending[memory_id], self.vector_of[memory_id] = doc, vector
        self.out.append(Created(memory_id, status))

    def _merging(self, doc: dict[str, Any]) -> dict[str, Any]:
        return merging(doc, doc["id"] in self.remembered)

    async def add(
        self,
        record: MemoryRecord,
        doc: dict[str, Any],
        vector: np.ndarray,
        old: dict[str, Any] | None,
        deduplicate: bool,
        sent: bool,
    ) -> None:
        """Take one record: an update of its id, a copy of a memory (rule 2), or a new memory
        the judge may compare with similar ones (rule 3)."""
        memory_id = doc["id"]
        if sent:
            self.remembered.add(memory_id)
        if old is not None:
            keep_history(doc, old, record.model_fields_set)
        if old is not None or memory_id in self.pending or not deduplicate:
            status: Status = (
                "updated" if old is not None or memory_id in self.pending else "created"
            )
            self._keep(doc, vector, status)
            self.by_hash.setdefault(doc["memory_hash"], memory_id)
            return
        twin = self.by_hash.get(doc["memory_hash"]) or self.twins.get(memory_id)
        if twin is not None and twin in self.ids:
            self.copies.append((len(self.out), twin, doc, vector))
            self.out.append(Created(twin, "duplicate"))
            return
        if twin is not None and await self.dedup.fold_into(twin, self._merging(doc), self.at):
            self.out.append(Created(twin, "duplicate"))
            return
        chosen = sent and client_chosen(memory_id, True)
        if not doc.get("pinned") and not chosen:  # never merged away
            self.asked.append(memory_id)
        self._keep(doc, vector, "created")
        self.by_hash[doc["memory_hash"]] = memory_id

    def home(self, memory_id: str) -> str:
        while memory_id in self.redirect:
            memory_id = self.redirect[memory_id]
        return memory_id

    def merge(self, position: int, doc: dict[str, Any], target: str, verdict: Verdict) -> None:
        target = self.home(target)
        self.out[position] = Created(target, "merged")
        self.redirect[doc["id"]] = target
        doc = self._merging(doc)
        if target not in self.pending:  # stored: changed after the request's writes
            self.merges.append((position, target, doc, verdict))
        elif verdict == "refines":
            kept = self.pending[target]
            self.pending[target] = refine(kept, doc, kept["updated_at"])
            self.vector_of[target] = self.vector_of.get(doc["id"], self.vector_of[target])
        else:
            kept = self.pending[target]
            self.pending[target] = absorb(kept, doc, kept["updated_at"])

    def fold_copies(self) -> None:
        """Fold the request's copies into the memory that holds their text in the end."""
        moved: dict[str, str] = {}  # hash -> the copy stored because its twin's text changed
        for position, twin, doc, vector in self.copies:
            if twin in self.redirect:  # its twin was merged: so is it
                self.merge(position, doc, twin, "same")
                continue
            kept = self.pending.get(twin)
            if kept is None or kept["memory_hash"] != doc["memory_hash"]:
                twin = moved.get(doc["memory_hash"], doc["id"])
                kept = self.pending.get(twin)
            if kept is not None and kept["memory_hash"] == doc["memory_hash"]:
                copy = self._merging(doc)
                self.pending[twin] = fold(kept, copy, kept["updated_at"]) or kept
                self.out[position] = Created(twin, "duplicate")
            elif twin not in self.pending:  # the twin's text changed later in this request
                self.pending[twin], self.vector_of[twin] = doc, vector
                self.position_of[twin] = position
                self.out[position] = Created(twin, "created")
                moved[doc["memory_hash"]] = twin

    async def versions(
        self, pairs: list[tuple[str, str]], stored: dict[str, dict[str, Any]]
    ) -> list[Link]:
        """Apply "``new`` is a newer version of ``target``" for each pair (explicit
        ``supersedes``, or the judge's ``updates``, where the later ``valid_at`` wins) to the
        request's documents; the links stored memories take, to write with them."""
        unknown = sorted({self.home(t) for _, t in pairs} - self.pending.keys() - stored.keys())
        if unknown:
            found = await self.documents.get_fields(unknown, VERSION_FIELDS)
            stored = {**stored, **{i: d for i, d in zip(unknown, found, strict=True) if d}}
        links: list[Link] = []
        for new_id, target_id in pairs:
            target_id = self.home(target_id)
            new = self.pending.get(new_id)
            if new is None or target_id == new_id:
                continue
            if (mine := self.pending.get(target_id)) is not None:
                pair = (new, mine) if valid_from(new) >= valid_from(mine) else (mine, new)
                supersede(*pair)
            elif (old := stored.get(target_id)) is not None:
                newer_one = new["valid_at"] >= valid_from(old)
                links.append(link_to_stored(new, target_id, self.at, newer=newer_one))
                if not newer_one:
                    outdate(new, valid_from(old))
        return links

    def outcomes(self) -> list[Created]:
        """Each record's ``Created``, with the versions and near memories this request set."""
        out = []
        for created in self.out:
            doc = self.pending.get(created.id)
            if created.status in ("created", "updated") and doc is not None:
                created = replace(
                    created,
                    supersedes=tuple(doc.get("supersedes") or ()),
                    superseded_by=tuple(doc.get("superseded_by") or ()),
                    similar=(self.similar[created.id],) if created.id in self.similar else (),
                )
            out.append(created)
        count_writes(out)
        return out
