"""Long-term memory: create (with deduplication), read, edit, delete, search, forget, compact.

A memory is stored as its MemoryRecord fields with dates as epoch seconds (rounded to
microseconds, which the store reads back exactly), plus ``embedding`` (the text's vector) and
``search_text`` (what keyword search reads: the text unless the caller gave more). Creation is
synchronous: when ``create`` returns, the memories are searchable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import numpy as np

from remem.config import default
from remem.embeddings.base import Embedder
from remem.errors import Conflict, EmbeddingMismatch, InvalidInput, NotFound
from remem.memory.access import AccessTracker
from remem.memory.dedup import (
    DEFAULT_CANDIDATE_DISTANCE,
    Decide,
    Deduplicator,
    Judge,
    Verdict,
    absorb,
    client_chosen,
    fold,
    memory_hash,
    refine,
    same_scope,
)
from remem.memory.filters import Within, compile_filters, epoch, within_filter
from remem.memory.forgetting import select_for_forgetting
from remem.memory.identifiers import check_id, check_tags, optional_id
from remem.memory.limits import Limits
from remem.memory.search import Searcher, search_terms
from remem.memory.unreadable import Unreadable, reason
from remem.models.memory import MemoryRecord
from remem.models.search import (
    EditMemoryRecordRequest,
    ForgetPolicy,
    ForgetResponse,
    MemoryRecordResult,
    MemoryRecordResults,
    SearchRequest,
)
from remem.store.longterm import LongTermStore
from remem.store.query import every, tag_is

RECORD_FIELDS = tuple(MemoryRecord.model_fields)
STORED_ONLY = frozenset({"embedding", "search_text", "search_terms"})  # never sent back
DATE_FIELDS = ("created_at", "updated_at", "last_accessed", "persisted_at", "event_date")
log = logging.getLogger(__name__)

Status = Literal["created", "updated", "duplicate", "merged"]
R = TypeVar("R", bound=MemoryRecord)


def now() -> float:
    return round(time.time(), 6)


def to_doc(record: MemoryRecord, vector: np.ndarray) -> dict[str, Any]:
    """The stored document of ``record`` (validated)."""
    if not record.text or not record.text.strip():
        raise InvalidInput(f"memory text cannot be empty (memory id: {record.id})")
    doc = record.model_dump(mode="json", exclude={"search_text"})
    for name in DATE_FIELDS:
        value = getattr(record, name)
        doc[name] = None if value is None else epoch(value)
    doc["id"] = check_id("id", record.id)
    for name in ("namespace", "user_id", "session_id", "role"):
        doc[name] = optional_id(name, doc[name])
    check_id("extraction_strategy", doc["extraction_strategy"])
    doc["topics"] = check_tags("topics", record.topics)
    doc["entities"] = check_tags("entities", record.entities)
    doc["search_text"] = getattr(record, "search_text", None) or record.text
    doc["search_terms"] = search_terms(doc["text"], doc["search_text"])
    doc["embedding"] = stored_vector(vector)
    doc["memory_hash"] = hash_of(doc)
    return doc


def stored_vector(vector: np.ndarray) -> np.ndarray:
    """A vector as the store takes it (which keeps it in binary, see store.longterm.layout)."""
    return np.asarray(vector, dtype=np.float32)


def hash_of(doc: dict[str, Any]) -> str:
    return memory_hash(doc["text"], doc.get("namespace"), doc.get("user_id"), doc["memory_type"])


def from_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """MemoryRecord fields of a stored document (dates as datetimes).

    Raises ValueError naming the field for a date no datetime can hold."""
    out = {k: v for k, v in doc.items() if k not in STORED_ONLY}
    for name in DATE_FIELDS:
        if out.get(name) is not None:
            try:
                out[name] = datetime.fromtimestamp(float(out[name]), UTC)
            except (ValueError, OverflowError, OSError, TypeError) as exc:
                raise ValueError(f"{name}: {out[name]!r} is not a date ({exc})") from None
    return out


def read_record(doc: dict[str, Any], memory_id: str, model: type[R], **extra: Any) -> R:
    """The record of a stored document, or Unreadable saying what in it cannot be read."""
    try:
        return model.model_validate({**from_doc(doc), **extra})
    except ValueError as exc:  # pydantic's ValidationError included
        raise Unreadable(
            f"memory {memory_id!r} is stored in a form this server cannot read ({reason(exc)}); "
            "delete it or store it again under the same id"
        ) from None


@dataclass(frozen=True)
class Created:
    id: str  # the memory that now holds the record (the existing one for duplicates/merges)
    status: Status


@dataclass
class LongTermMemoryService:
    store: LongTermStore
    embedder: Embedder
    dedup_candidate_distance: float = DEFAULT_CANDIDATE_DISTANCE
    merge_decision: Decide | None = None  # pairwise; None (and no judge): only copies merge
    merge_judge: Judge | None = None  # batched (the LLM): one call per create request
    access_flush_seconds: float = default("access_flush_seconds")
    access_resolution_seconds: float = default("access_resolution_seconds")
    limits: Limits = field(default_factory=Limits)
    dedup: Deduplicator = field(init=False)
    access: AccessTracker = field(init=False)
    searcher: Searcher = field(init=False)

    def __post_init__(self) -> None:
        self.dedup = Deduplicator(
            self.store, self.dedup_candidate_distance, self.merge_decision, self.merge_judge
        )
        self.access = AccessTracker(
            self.store,
            interval=self.access_flush_seconds,
            resolution=self.access_resolution_seconds,
        )
        self.searcher = Searcher(self.store, self._embed_one)

    async def start(self) -> None:
        self.access.start()

    async def close(self) -> None:
        await self.access.close()
        await self.store.aclose()

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(await self.embedder.embed_batch(list(texts)), dtype=np.float32)
        if vectors.shape != (len(texts), self.embedder.dimensions):  # a server fault: 500
            raise EmbeddingMismatch(
                f"the embedder returned shape {vectors.shape} for {len(texts)} texts of "
                f"{self.embedder.dimensions} dimensions"
            )
        return vectors

    async def _embed_one(self, text: str) -> np.ndarray:
        vector: np.ndarray = (await self.embed([text]))[0]
        return vector

    # -- create ------------------------------------------------------------------------------
    async def create(
        self, records: Sequence[MemoryRecord], *, deduplicate: bool = True
    ) -> list[Created]:
        """Store ``records``, searchable on return; one ``Created`` per record, in order.

        An id owned by another namespace or user is a ``Conflict``: found before anything is
        written, the whole request is refused; taken by a concurrent request meanwhile (the
        store's upsert checks ownership atomically), that record alone is not written, the rest
        of the request is, and the ``Conflict`` says so.
        """
        if not records:
            return []
        self.limits.memories(len(records))
        self.limits.texts("memories[{i}].text", (r.text for r in records))
        self.limits.texts(
            "memories[{i}].search_text", (getattr(r, "search_text", None) for r in records)
        )
        vectors = await self.embed([r.text for r in records])
        docs = [to_doc(r, v) for r, v in zip(records, vectors, strict=True)]
        stored = await self.store.documents.get_many([d["id"] for d in docs])
        for doc, old in zip(docs, stored, strict=True):
            if old is not None and not same_scope(old, doc):
                raise Conflict(
                    f"memory {doc['id']!r} exists in another namespace or for another user"
                )
        at = now()
        ids = {d["id"] for d in docs}
        pending: dict[str, dict[str, Any]] = {}  # id -> document to write
        vector_of: dict[str, np.ndarray] = {}
        by_hash: dict[str, str] = {}
        # Copies of a memory this request writes: folded in once its final text is known.
        copies: list[tuple[int, str, dict[str, Any], np.ndarray]] = []
        merges: list[tuple[int, str, dict[str, Any], Verdict]] = []  # (position, target, ...)
        asked: list[str] = []  # new memories the judge compares with similar ones
        position_of: dict[str, int] = {}
        out: list[Created] = []
        for record, doc, vector, old in zip(records, docs, vectors, stored, strict=True):
            memory_id = doc["id"]
            if old is not None or memory_id in pending or not deduplicate:
                status: Status = "updated" if old is not None or memory_id in pending else "created"
                pending[memory_id], vector_of[memory_id] = doc, vector
                by_hash.setdefault(doc["memory_hash"], memory_id)
                out.append(Created(memory_id, status))
                continue
            twin = by_hash.get(doc["memory_hash"]) or await self.dedup.by_hash(doc)
            if twin is not None and twin in ids:
                copies.append((len(out), twin, doc, vector))
                out.append(Created(twin, "duplicate"))
                continue
            if twin is not None and await self.dedup.fold_into(twin, doc, at):
                out.append(Created(twin, "duplicate"))
                continue
            chosen = client_chosen(memory_id, "id" in record.model_fields_set)
            if not doc.get("pinned") and not chosen:  # never merged away
                asked.append(memory_id)
            position_of[memory_id] = len(out)
            pending[memory_id], vector_of[memory_id] = doc, vector
            by_hash[doc["memory_hash"]] = memory_id
            out.append(Created(memory_id, "created"))
        redirect: dict[str, str] = {}  # merged new memory -> the memory that took it in

        def home(memory_id: str) -> str:
            while memory_id in redirect:
                memory_id = redirect[memory_id]
            return memory_id

        def merge(position: int, doc: dict[str, Any], target: str, verdict: Verdict) -> None:
            target = home(target)
            out[position] = Created(target, "merged")
            redirect[doc["id"]] = target
            if target not in pending:  # stored: changed after the request's writes
                merges.append((position, target, doc, verdict))
            elif verdict == "refines":
                pending[target] = refine(pending[target], doc, pending[target]["updated_at"])
                vector_of[target] = vector_of.get(doc["id"], vector_of[target])
            else:
                pending[target] = absorb(pending[target], doc, pending[target]["updated_at"])

        for memory_id, (verdict, target) in (
            await self.dedup.judge_similar(asked, pending, vector_of)
        ).items():
            doc = pending.pop(memory_id)
            merge(position_of[memory_id], doc, target, verdict)
            vector_of.pop(memory_id)
        moved: dict[str, str] = {}  # hash -> the copy stored because its twin's text changed
        for position, twin, doc, vector in copies:
            if twin in redirect:  # its twin was merged: so is it
                merge(position, doc, twin, "same")
                continue
            kept = pending.get(twin)
            if kept is None or kept["memory_hash"] != doc["memory_hash"]:
                twin = moved.get(doc["memory_hash"], doc["id"])
                kept = pending.get(twin)
            if kept is not None and kept["memory_hash"] == doc["memory_hash"]:
                pending[twin] = fold(kept, doc, kept["updated_at"]) or kept
                out[position] = Created(twin, "duplicate")
            elif twin not in pending:  # the twin's text changed later in this request
                pending[twin], vector_of[twin] = doc, vector
                moved[doc["memory_hash"]] = twin
                out[position] = Created(twin, "created")
        written = await self.store.documents.upsert_many(list(pending.values()))
        refused = [i for i, w in zip(pending, written, strict=True) if w.refused]
        for position, target, doc, verdict in merges:
            if not await self.dedup.merge_into(target, doc, at, verdict):  # gone or pinned
                out[position] = Created(doc["id"], "created")
                if (await self.store.documents.upsert_many([doc]))[0].refused:
                    refused.append(doc["id"])
        if refused:
            raise Conflict(
                f"memory {', '.join(map(repr, refused))} was created meanwhile in another "
                f"namespace or for another user; the request's other memories were stored"
            )
        return out

    # -- read, edit, delete ------------------------------------------------------------------
    async def get(self, memory_id: str) -> MemoryRecord:
        (doc,) = await self.store.documents.get_fields([memory_id], RECORD_FIELDS)
        if doc is None:
            raise NotFound(f"memory {memory_id!r} not found")
        return read_record(doc, memory_id, MemoryRecord)

    async def update(
        self,
        memory_id: str,
        patch: EditMemoryRecordRequest,
        visible: Callable[[str | None, str | None], bool] | None = None,
    ) -> MemoryRecord:
        """PATCH: only the fields sent change; null clears; the text is re-embedded if it
        changes; the hash follows text, namespace, user and type. A memory whose (namespace,
        user) ``visible`` refuses is not found, checked on the document the write replaces."""
        sent = patch.model_fields_set
        self.limits.texts("text", [patch.text])
        self.limits.texts("search_text", [patch.search_text])
        changes = patch.model_dump(include=sent, mode="json")
        for name in ("namespace", "user_id", "session_id"):
            if name in changes:
                changes[name] = optional_id(name, changes[name])
        for name in ("topics", "entities"):
            if name in changes:
                changes[name] = check_tags(name, changes[name])
        if "event_date" in changes:
            changes["event_date"] = None if patch.event_date is None else epoch(patch.event_date)
        if "text" in changes and not str(changes["text"]).strip():
            raise InvalidInput("memory text cannot be empty")
        vector = await self._embed_one(changes["text"]) if "text" in changes else None
        at = now()

        def change(doc: dict[str, Any]) -> dict[str, Any] | None:
            owner = doc.get("namespace") or None, doc.get("user_id") or None
            if visible is not None and not visible(*owner):
                return None  # nothing written: "not found"
            new = {**doc, **changes, "updated_at": at}
            if vector is not None and new["text"] != doc["text"]:
                new["embedding"] = stored_vector(vector)
                if "search_text" not in changes:
                    new["search_text"] = new["text"]
            if not new.get("search_text"):
                new["search_text"] = new["text"]
            new["search_terms"] = search_terms(new["text"], new["search_text"])
            new["memory_hash"] = hash_of(new)
            read_record(new, memory_id, MemoryRecord)  # never write what cannot be read back
            return new

        written = await self.store.documents.modify(memory_id, change)
        if written is None:
            raise NotFound(f"memory {memory_id!r} not found")
        (hits,) = await self.store.documents.access_counts([memory_id])
        written["access_count"] = int(written.get("access_count") or 0) + hits
        return read_record(written, memory_id, MemoryRecord)

    async def delete(
        self, ids: Sequence[str], visible: Callable[[str | None, str | None], bool] | None = None
    ) -> int:
        """Delete these memories; the number that existed. With ``visible``, only those whose
        (namespace, user) it accepts: the others are left alone and not counted, as if they
        did not exist (one more round trip to read the owners)."""
        if visible is not None and ids:
            owners = await self.store.documents.get_fields(list(ids), ("namespace", "user_id"))
            ids = [
                memory_id
                for memory_id, doc in zip(ids, owners, strict=True)
                if doc is not None
                and visible(doc.get("namespace") or None, doc.get("user_id") or None)
            ]
        return await self.store.documents.delete_many(list(ids))

    # -- search ------------------------------------------------------------------------------
    async def search(
        self, request: SearchRequest, within: Within | None = None
    ) -> MemoryRecordResults:
        """The page of memories matching ``request``, never outside ``within`` (the caller's
        scope, ANDed into the filter: an empty answer stays empty, it never widens)."""
        self.limits.texts("text", [request.text])
        query = await compile_filters(request, self.store.cache.tag_values)
        if within is not None and query is not None:
            bound = await within_filter(within, self.store.cache.tag_values)
            query = None if bound is None else every(query, bound)
        at = now()
        ranking = await self.searcher.search(request, query, at)
        ids = [h.id for h in ranking.hits]
        docs = await self.store.documents.get_fields(ids, RECORD_FIELDS)
        query_vector = ranking.vector
        unmeasured = [h.id for h in ranking.hits if h.dist is None]
        measured = (
            await self.store.index.distances(unmeasured, query_vector)
            if query_vector is not None
            else {}
        )
        results = []
        for hit, doc in zip(ranking.hits, docs, strict=True):
            if doc is None:  # deleted since the search
                continue
            dist = hit.dist if hit.dist is not None else measured.get(hit.id)
            try:
                result = read_record(
                    doc,
                    hit.id,
                    MemoryRecordResult,
                    dist=round(dist if dist is not None else 0.0, 6),
                    score=hit.score,
                    score_type=request.search_mode,
                )
            except Unreadable as exc:  # one bad record must not fail the search for everyone
                log.warning("search skipped a memory: %s", exc.detail)
                continue
            results.append(result)
        self.access.record((r.id for r in results), at)
        end = request.offset + request.limit
        return MemoryRecordResults(
            memories=results,
            total=ranking.total,
            next_offset=end if end < ranking.total else None,
        )

    # -- lifecycle ---------------------------------------------------------------------------
    async def forget(
        self,
        policy: ForgetPolicy,
        *,
        namespace: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        limit: int = 1000,
        dry_run: bool = True,
        pinned_ids: Collection[str] = (),
    ) -> ForgetResponse:
        """Apply ``policy`` to the ``limit`` oldest memories of the scope given."""
        query = every(
            tag_is("namespace", namespace),
            tag_is("user_id", user_id),
            tag_is("session_id", session_id),
        )
        rows = await self.store.index.oldest(query, limit)
        doomed = select_for_forgetting(rows, policy, now(), set(pinned_ids))
        if not dry_run:
            await self.store.documents.delete_many(doomed)
        return ForgetResponse(
            scanned=len(rows), deleted=len(doomed), deleted_ids=doomed, dry_run=dry_run
        )

    async def count(self) -> int:
        """How many memories are stored, in every namespace."""
        return await self.store.index.count(every())

    async def compact(self, namespace: str | None = None, user_id: str | None = None) -> int:
        """Merge copies of the same normalised text; how many memories remain in the scope."""
        return await self.dedup.compact(namespace, user_id, now())
