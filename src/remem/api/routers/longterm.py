"""Long-term memory: /v1/long-term-memory (Agent Memory Server 0.15 paths and shapes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from remem.api.deps import long_term_memory
from remem.api.lean import json_response, lean
from remem.auth import guard
from remem.errors import InvalidInput
from remem.memory.create_plan import Created
from remem.memory.identifiers import optional_id
from remem.memory.longterm import LongTermMemoryService
from remem.memory.query_rewrite import OPTIMIZE_QUERY
from remem.models.common import AckResponse
from remem.models.memory import MemoryRecord
from remem.models.search import (
    CreateDetail,
    CreateMemoryRecordRequest,
    EditMemoryRecordRequest,
    ForgetPolicy,
    ForgetResponse,
    MemoryHistory,
    MemoryRecordResults,
    SearchRequest,
    WriteOutcome,
)

router = APIRouter(tags=["long-term memory"])
Service = Depends(long_term_memory)


_FIRST_HIT = {"path.memory_id": "$response.body#/memories/0/id"}
_HIT_LINKS: dict[int | str, dict[str, Any]] = {
    200: {
        "links": {  # OpenAPI links: a stateful client or fuzzer can follow a search to a hit
            "GetMemory": {
                "operationId": "get_long_term_memory_v1_long_term_memory__memory_id__get",
                "parameters": _FIRST_HIT,
            },
            "UpdateMemory": {
                "operationId": "update_long_term_memory_v1_long_term_memory__memory_id__patch",
                "parameters": _FIRST_HIT,
            },
        }
    }
}


class ForgetRequest(BaseModel):
    policy: ForgetPolicy = Field(default_factory=ForgetPolicy)
    pinned_ids: list[str] | None = None


@router.post("/v1/long-term-memory/", response_model=AckResponse | CreateDetail)
@router.post(
    "/v1/long-term-memory", response_model=AckResponse | CreateDetail, include_in_schema=False
)
async def create_long_term_memory(
    body: CreateMemoryRecordRequest,
    detail: bool = Query(
        False, description="Answer what became of each record (remem): added, merged..."
    ),
    service: LongTermMemoryService = Service,
) -> AckResponse | CreateDetail:
    """Store memories (embedded and indexed before the answer: searchable on return).

    With ``deduplicate`` (default true) a record whose id exists updates it (409 if another
    namespace or user owns the id) and one whose text is the same as a stored memory's after
    normalisation (case, whitespace, punctuation, Unicode NFKC) in the same namespace and user
    is not stored twice; with an LLM configured, similar memories are judged (same, refines,
    updates, different). A record's ``supersedes`` (ids of its namespace and user: 404
    otherwise) makes it their newer version: they get ``invalid_at``, and are kept.
    ``?detail=true`` answers, per record, what was done; the default answer is the upstream
    server's ``{"status": "ok"}``.
    """
    guard.new_records(body.memories)
    done = await service.create(body.memories, deduplicate=body.deduplicate)
    if not detail:
        return AckResponse(status="ok")
    return CreateDetail(
        memories=[outcome(r.id, c) for r, c in zip(body.memories, done, strict=True)]
    )


def outcome(sent_id: str, created: Created) -> WriteOutcome:
    merged = created.status in ("duplicate", "merged")
    kind = "merged" if merged else "updated" if created.status == "updated" else "added"
    if kind == "added" and created.similar:
        kind = "distinct"
    return WriteOutcome(
        id=sent_id,
        outcome=kind,  # type: ignore[arg-type]
        memory_id=created.id,
        supersedes=list(created.supersedes),
        superseded_by=list(created.superseded_by),
        similar=list(created.similar),
    )


# Search skips FastAPI's general request handling too (see api.lean), as it did before issue 10.
@lean(
    router,
    "/v1/long-term-memory/search",
    "POST",
    response_model=MemoryRecordResults,
    responses=_HIT_LINKS,
)
async def search_long_term_memory(
    body: SearchRequest,
    optimize_query: bool = Query(default=False, description=OPTIMIZE_QUERY),
    service: LongTermMemoryService = Service,
) -> Response:
    """Hybrid (the default), semantic or keyword (BM25) search with filters; true total and
    next_offset."""
    # Serialised once, by the model just built: returning the model made FastAPI validate the
    # page again against response_model (which still documents the shape).
    within = guard.search(body)
    return json_response(await service.search(body, within, optimize_query=optimize_query))


@router.delete("/v1/long-term-memory", response_model=AckResponse)
@router.delete("/v1/long-term-memory/", response_model=AckResponse, include_in_schema=False)
async def delete_long_term_memory(
    memory_ids: list[str] = Query(default=[]), service: LongTermMemoryService = Service
) -> AckResponse:
    count = await service.delete(memory_ids, guard.delete())
    return AckResponse(status=f"ok, deleted {count} memories")


@router.post("/v1/long-term-memory/forget", response_model=ForgetResponse)
async def forget_long_term_memories(
    body: ForgetRequest = Body(default_factory=ForgetRequest),
    namespace: str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    limit: int = Query(1000, ge=1, le=100_000),
    dry_run: bool = False,
    service: LongTermMemoryService = Service,
) -> ForgetResponse:
    """Delete memories by the policy (oldest first within ``limit``); pinned ones are kept.

    ``dry_run`` defaults to false because the official client only sends it when true.
    """
    namespace, user_id = guard.lifecycle(
        optional_id("namespace", namespace), optional_id("user_id", user_id), "forgetting"
    )
    return await service.forget(
        body.policy,
        namespace=namespace,
        user_id=user_id,
        session_id=optional_id("session_id", session_id),
        limit=limit,
        dry_run=dry_run,
        pinned_ids=body.pinned_ids or (),
    )


@router.post("/v1/long-term-memory/compact", response_model=AckResponse)
async def compact_long_term_memories(
    namespace: str | None = None,
    user_id: str | None = None,
    service: LongTermMemoryService = Service,
) -> AckResponse:
    """Merge copies of the same normalised text within the scope; other texts are kept."""
    remaining = await service.compact(
        *guard.lifecycle(
            optional_id("namespace", namespace), optional_id("user_id", user_id), "compaction"
        )
    )
    return AckResponse(status=f"ok, {remaining} memories remaining after compaction")


# Reading one memory skips FastAPI's general request handling (see api.lean): 12-17% of the
# request. Edits (1-13%, measured three times) and create (0-6%) keep FastAPI's.
@router.get("/v1/long-term-memory/{memory_id:path}/history", response_model=MemoryHistory)
async def long_term_memory_history(
    memory_id: str, service: LongTermMemoryService = Service
) -> MemoryHistory:
    """The versions of the fact this memory holds (what it supersedes and what superseded it),
    oldest first, each with its ``valid_at`` and ``invalid_at`` (remem). A memory whose own id
    ends in ``/history`` is read by GET as usual; its history is not reachable here."""
    versions = await service.history(memory_id, guard.visible())
    return MemoryHistory(id=memory_id, versions=versions)


@lean(router, "/v1/long-term-memory/{memory_id:path}", "GET", response_model=MemoryRecord)
async def get_long_term_memory(
    memory_id: str, service: LongTermMemoryService = Service
) -> Response:
    """One memory. An id that deduplication merged into another memory answers 404 with code
    ``merged`` and ``merged_into``: the id of the memory that holds it now."""
    return json_response(guard.readable(await service.get(memory_id, guard.visible())))


@router.patch("/v1/long-term-memory/{memory_id:path}", response_model=MemoryRecord)
async def update_long_term_memory(
    memory_id: str, body: EditMemoryRecordRequest, service: LongTermMemoryService = Service
) -> Response:
    """Change only the fields sent; an explicit null clears a nullable field. The memory is
    re-embedded only when its text changes."""
    if not body.model_fields_set:
        raise InvalidInput("No fields provided for update")
    visible = guard.edit(body.model_fields_set, body.namespace, body.user_id)
    return json_response(await service.update(memory_id, body, visible))
