"""Long-term memory: create (with deduplication), read, edit, delete, search, forget, compact.

A memory is stored as its MemoryRecord fields with dates as epoch seconds (rounded to
microseconds, which the store reads back exactly), plus ``embedding`` (the text's vector) and
``search_text`` (what keyword search reads: the text unless the caller gave more). Creation is
synchronous: when ``create`` returns, the memories are searchable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from remem.config import default
from remem.embeddings.base import Embedder
from remem.errors import Conflict, EmbeddingMismatch, InvalidInput, MergedAway, NotFound
from remem.memory.access import AccessTracker
from remem.memory.compaction import Compaction
from remem.memory.create_plan import VERSION_FIELDS, Created, Plan
from remem.memory.dedup import DEFAULT_CANDIDATE_DISTANCE, Decide, Deduplicator, Judge
from remem.memory.filters import Within, compile_filters, epoch, hit_owners, validity, within_filter
from remem.memory.forgetting import select_for_forgetting
from remem.memory.identifiers import check_tags, optional_id, stored_id
from remem.memory.limits import Limits
from remem.memory.observed import created, searched
from remem.memory.query_rewrite import QueryRewriter
from remem.memory.records import (
    RECORD_FIELDS,
    SERVER,
    now,
    read_record,
    stored_vector,
    to_doc,
)
from remem.memory.sameness import hash_of, same_scope
from remem.memory.search import Ranking, Searcher
from remem.memory.unreadable import Unreadable
from remem.memory.validity import HISTORY_MAX, chain, check_targets, neighbours
from remem.memory.words import search_terms
from remem.models.memory import MemoryRecord
from remem.models.search import (
    EditMemoryRecordRequest,
    ForgetPolicy,
    ForgetResponse,
    MemoryRecordResult,
    MemoryRecordResults,
    SearchRequest,
)
from remem.store.longterm import Link, LongTermStore
from remem.store.longterm.cache import Kept
from remem.store.longterm.located import remembering_found_keys
from remem.store.query import Filter, NotPast, every, tag_is

log = logging.getLogger(__name__)

Visible = Callable[[str | None, str | None], bool]  # whether a (namespace, user) is the caller's


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
    query_rewriter: QueryRewriter | None = None  # optimize_query (the LLM); None: ignored
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

    @created  # -- create ---------------------------------------------------------------------
    async def create(
        self,
        records: Sequence[MemoryRecord],
        *,
        deduplicate: bool = True,
        server_made: bool = False,
    ) -> list[Created]:
        """Store ``records``, searchable on return; one ``Created`` per record, in order.

        An id owned by another namespace or user is a ``Conflict``: found before anything is
        written, the whole request is refused; taken by a concurrent request meanwhile (the
        store's upsert checks ownership atomically), that record alone is not written, the rest
        of the request is, and the ``Conflict`` says so. A ``supersedes`` naming a memory
        outside the record's namespace and user is ``NotFound``, before anything is written.
        ``server_made``: the ids are the server's (extraction), stored with that ``origin``,
        so deduplication may merge them away (a caller's chosen id never is).
        """
        if not records:
            return []
        self._check_sizes(records)
        vectors = await self.embed([r.text for r in records])
        docs = [to_doc(r, v) for r, v in zip(records, vectors, strict=True)]
        if server_made:
            for doc in docs:
                doc["origin"] = SERVER
        stored = await self.store.documents.get_many([d["id"] for d in docs])
        for doc, old in zip(docs, stored, strict=True):
            if old is not None and not same_scope(old, doc):
                raise Conflict(
                    f"memory {doc['id']!r} exists in another namespace or for another user"
                )
        explicit, targets = await self._supersede_targets(docs)
        plan = Plan(self.dedup, self.store.documents, now(), {d["id"] for d in docs})
        if deduplicate:  # new memories that may repeat a stored one: asked all at once
            fresh = [d for d, o in zip(docs, stored, strict=True) if o is None]
            plan.twins = await self.dedup.stored_twins(
                [d for d in fresh if d["id"] not in explicit]
            )
        for record, doc, vector, old in zip(records, docs, vectors, stored, strict=True):
            sent = "id" in record.model_fields_set and not server_made
            dedup = deduplicate and doc["id"] not in explicit  # an explicit version: as sent
            await plan.add(record, doc, vector, old, dedup, sent)
        updates = await self._judged(plan, explicit)
        plan.fold_copies()
        await self._write(plan, await plan.versions(updates, targets))
        return plan.outcomes()

    def _check_sizes(self, records: Sequence[MemoryRecord]) -> None:
        self.limits.memories(len(records))
        self.limits.texts("memories[{i}].text", (r.text for r in records))
        self.limits.texts(
            "memories[{i}].search_text", (getattr(r, "search_text", None) for r in records)
        )

    async def _judged(self, plan: Plan, explicit: dict[str, list[str]]) -> list[tuple[str, str]]:
        """Apply the judge's verdicts on the plan's new memories (merges, and similar ones kept
        apart); the versions to link: explicit ``supersedes`` and the judge's ``updates``."""
        judged = await self.dedup.judge_similar(plan.asked, plan.pending, plan.vector_of)
        updates: list[tuple[str, str]] = [(i, t) for i, ts in explicit.items() for t in ts]
        for memory_id, (verdict, target) in judged.items():
            if verdict == "different":
                plan.similar[memory_id] = target
            elif verdict == "updates":
                updates.append((memory_id, target))
            else:
                doc = plan.pending.pop(memory_id)
                plan.merge(plan.position_of[memory_id], doc, target, verdict)
                plan.vector_of.pop(memory_id)
        return updates

    async def _write(self, plan: Plan, links: list[Link]) -> None:
        """Write the plan in one MULTI, then its merges; ``Conflict`` naming any record a
        concurrent request took in another scope (the others are written)."""
        written = await self.store.documents.upsert_many(list(plan.pending.values()), links)
        refused = [i for i, w in zip(plan.pending, written, strict=True) if w.refused]
        for position, target, doc, verdict in plan.merges:
            if not await self.dedup.merge_into(target, doc, plan.at, verdict):  # gone or pinned
                plan.out[position] = Created(doc["id"], "created")
                if (await self.store.documents.upsert_many([doc]))[0].refused:
                    refused.append(doc["id"])
        if refused:
            raise Conflict(
                f"memory {', '.join(map(repr, refused))} was created meanwhile in another "
                f"namespace or for another user; the request's other memories were stored"
            )

    async def _supersede_targets(
        self, docs: list[dict[str, Any]]
    ) -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
        """The memories each document explicitly supersedes (checked: ``check_targets``), and
        the stored ones among them (their scope and dates)."""
        explicit = {d["id"]: list(d["supersedes"]) for d in docs if d.get("supersedes")}
        if not explicit:
            return {}, {}
        in_request = {d["id"]: d for d in docs}
        outside = sorted({t for ts in explicit.values() for t in ts} - in_request.keys())
        found = await self.store.documents.get_fields(outside, VERSION_FIELDS)
        stored = {i: d for i, d in zip(outside, found, strict=True) if d is not None}
        for doc in docs:
            if targets := explicit.get(doc["id"]):
                check_targets(doc, targets, [in_request.get(t) or stored.get(t) for t in targets])
        return explicit, stored

    # -- read, edit, delete ------------------------------------------------------------------
    async def get(self, memory_id: str, visible: Visible | None = None) -> MemoryRecord:
        """The memory; for an id merged into another memory that ``visible`` accepts,
        ``MergedAway`` naming it; else ``NotFound``."""
        (doc,) = await self.store.documents.get_fields([memory_id], RECORD_FIELDS, visible)
        if doc is None:
            holder = await self.store.index.holder_of(memory_id) if stored_id(memory_id) else None
            if holder is not None and (visible is None or visible(holder[1], holder[2])):
                raise MergedAway(memory_id, holder[0])
            raise NotFound(f"memory {memory_id!r} not found")
        return read_record(doc, memory_id, MemoryRecord)

    async def history(self, memory_id: str, visible: Visible | None = None) -> list[MemoryRecord]:
        """The versions of the fact ``memory_id`` holds (what it supersedes and what superseded
        it, transitively, within its namespace and user), oldest first, itself included."""
        (doc,) = await self.store.documents.get_fields([memory_id], RECORD_FIELDS, visible)
        owner = (doc.get("namespace") or None, doc.get("user_id") or None) if doc else None
        if doc is None or owner is None or (visible is not None and not visible(*owner)):
            raise NotFound(f"memory {memory_id!r} not found")
        versions = {memory_id: doc}
        frontier = neighbours(doc)
        while frontier and len(versions) < HISTORY_MAX:
            ids = list(dict.fromkeys(i for i in frontier if i not in versions))
            ids = ids[: HISTORY_MAX - len(versions)]
            frontier = []
            found = await self.store.documents.get_fields(ids, RECORD_FIELDS, visible)
            for other_id, other in zip(ids, found, strict=True):
                if other is not None and same_scope(other, doc):  # a gone version is skipped
                    versions[other_id] = other
                    frontier += neighbours(other)
        return [read_record(d, d["id"], MemoryRecord) for d in chain(versions)]

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
        for name in ("namespace", "user_id", "session_id", "namespace_id", "namespace_label"):
            if name in changes:
                changes[name] = optional_id(name, changes[name])
        for name in ("topics", "entities"):
            if name in changes:
                changes[name] = check_tags(name, changes[name])
        for name in ("event_date", "valid_at", "invalid_at"):
            if name in changes:
                value = getattr(patch, name)
                changes[name] = None if value is None else epoch(value)
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
            new["search_text"] = new.get("search_text") or new["text"]
            new["search_terms"] = search_terms(new["text"], new["search_text"])
            new["memory_hash"] = hash_of(new)
            read_record(new, memory_id, MemoryRecord)  # never write what cannot be read back
            return new

        written = await self.store.documents.modify(memory_id, change, visible)
        if written is None:
            raise NotFound(f"memory {memory_id!r} not found")
        (hits,) = await self.store.documents.access_counts([memory_id], visible)
        written["access_count"] = int(written.get("access_count") or 0) + hits
        return read_record(written, memory_id, MemoryRecord)

    async def delete(
        self, ids: Sequence[str], visible: Callable[[str | None, str | None], bool] | None = None
    ) -> int:
        """Delete these memories; the number that existed. With ``visible``, only those whose
        (namespace, user) it accepts: the others are left alone and not counted, as if they
        did not exist (one more round trip to read the owners)."""
        if visible is not None and ids:
            owners = await self.store.documents.get_fields(ids, ("namespace", "user_id"), visible)
            ids = [
                memory_id
                for memory_id, doc in zip(ids, owners, strict=True)
                if doc is not None
                and visible(doc.get("namespace") or None, doc.get("user_id") or None)
            ]
        return await self.store.documents.delete_many(list(ids), visible)

    # -- search ------------------------------------------------------------------------------
    @searched
    async def search(
        self, request: SearchRequest, within: Within | None = None, *, optimize_query: bool = False
    ) -> MemoryRecordResults:
        """The page of memories matching ``request``, never outside ``within`` (the caller's
        scope, ANDed into the filter: an empty answer stays empty, it never widens).
        ``optimize_query``: the text rewritten by the LLM first (``memory.query_rewrite``)."""
        with remembering_found_keys():
            if not (optimize_query and self.query_rewriter is not None):
                return await self._search(request, within)
            self.limits.texts("text", [request.text])  # refused before the LLM reads it
            return await self.query_rewriter.search(
                request, lambda r: self._search(r, within), scope=within
            )

    async def _ranking(self, request: SearchRequest, query: Filter, at: float) -> Ranking:
        """The search of ``query`` and, unless asked otherwise, only what is still true."""
        clause, assumed = await self._validity(request, query, at)
        ranking = await self.searcher.search(request, every(query, clause), at)
        if assumed is not None and ranking.generation != assumed.generation:
            # Written since no memory had an invalid_at: ask again, and search again if one
            # has one now (a supersede landed, possibly from another process).
            clause, _ = await self._validity(request, query, at, verified=True)
            if clause is not None:
                ranking = await self.searcher.search(request, every(query, clause), at)
        return ranking

    async def _validity(
        self, request: SearchRequest, query: Filter, at: float, *, verified: bool = False
    ) -> tuple[Filter | None, Kept | None]:
        """``validity``, less its "still true" clause while no memory has an ``invalid_at``:
        the negated range visits every candidate (at 10,000 memories it added 11% to a keyword
        search's FT.SEARCH and 6% to a semantic one's), and most stores never supersede.
        Known from a count kept by the generation cache, which every write replaces. When the
        kept count says none, the clause is left out at once and the answer comes with the
        generation it holds for (``Kept``): the search reads the token in its own round trip,
        and ``_search`` asks again when it changed. Else (or ``verified``) it is confirmed."""
        clause = validity(request, at)
        if not isinstance(clause, NotPast):
            return clause, None
        cache = self.store.cache
        if not verified and (kept := cache.none_kept(clause.field)) is not None:
            return None, kept
        return (clause if await cache.any_value(clause.field, query) else None), None

    async def _search(self, request: SearchRequest, within: Within | None) -> MemoryRecordResults:
        self.limits.texts("text", [request.text])
        query = await compile_filters(request, self.store.cache.tag_values)
        if within is not None and query is not None:
            bound = await within_filter(within, self.store.cache.tag_values)
            query = None if bound is None else every(query, bound)
        at = now()
        if query is None:  # nothing can match
            ranking = await self.searcher.search(request, None, at)
        else:
            ranking = await self._ranking(request, query, at)
        ids, owners = [h.id for h in ranking.hits], hit_owners(request, within)
        docs = await self.store.documents.get_fields(ids, RECORD_FIELDS, owners)
        unmeasured, vector = [h.id for h in ranking.hits if h.dist is None], ranking.vector
        measured: dict[str, float] = {}
        if vector is not None:
            measured = await self.store.documents.distances(unmeasured, vector, owners)
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
        self.access.record(((r.id, r.namespace) for r in results), at)
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
        return await Compaction(self.dedup).compact(namespace, user_id, now())
