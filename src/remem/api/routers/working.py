"""Working memory: /v1/working-memory (Agent Memory Server 0.15 paths and shapes)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from remem.api.deps import working_memory
from remem.api.lean import LeanRoute, json_response
from remem.auth import guard
from remem.memory.working import WorkingMemoryService
from remem.models.bounds import MAX_COUNT
from remem.models.common import AckResponse
from remem.models.working import (
    AppendMessages,
    SessionListResponse,
    UpdateWorkingMemory,
    WorkingMemoryResponse,
)

# Every route skips FastAPI's general request handling (see api.lean): 17-30% of a GET or PUT.
router = APIRouter(tags=["working memory"], route_class=LeanRoute)
Service = Depends(working_memory)


def _session_links(*operations: tuple[str, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI links from an answer holding a session to the operations on that session, so
    a stateful client or fuzzer (schemathesis) can follow a PUT with a GET of the same id."""
    session = {"path.session_id": "$response.body#/session_id"}
    links = {name: {"operationId": op, "parameters": session} for name, op in operations}
    return {200: {"links": links}}


_THE_SESSION = _session_links(
    ("GetSession", "get_working_memory_v1_working_memory__session_id__get"),
    ("AppendMessages", "append_messages_v1_working_memory__session_id__messages_post"),
    ("DeleteSession", "delete_working_memory_v1_working_memory__session_id__delete"),
)


@router.get("/v1/working-memory/", response_model=SessionListResponse)
@router.get("/v1/working-memory", response_model=SessionListResponse, include_in_schema=False)
async def list_sessions(
    namespace: str | None = None,
    user_id: str | None = None,
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=MAX_COUNT),
    sort: Literal["created_at", "updated_at"] = "created_at",
    order: Literal["desc", "asc"] = "desc",
    service: WorkingMemoryService = Service,
) -> Response:
    """Session ids, newest first by default, with the true total of matching sessions."""
    namespace, within, user_id = guard.sessions(namespace, user_id)
    listed = await service.list_sessions(
        namespace=namespace,
        namespaces=within,
        user_id=user_id,
        limit=limit,
        offset=offset,
        sort=sort,
        descending=order == "desc",
    )
    return json_response(listed)


@router.get("/v1/working-memory/{session_id:path}", response_model=WorkingMemoryResponse)
async def get_working_memory(
    session_id: str,
    namespace: str | None = None,
    user_id: str | None = None,
    recent_messages_limit: int | None = Query(None, ge=0, le=MAX_COUNT),
    model_name: str | None = None,
    context_window_max: int | None = Query(None, ge=1, le=MAX_COUNT),
    service: WorkingMemoryService = Service,
) -> Response:
    namespace, user_id = guard.session(namespace, user_id)
    return json_response(
        await service.get(
            session_id,
            namespace=namespace,
            user_id=user_id,
            recent_messages_limit=recent_messages_limit,
            model_name=model_name,
            context_window_max=context_window_max,
        )
    )


@router.put(
    "/v1/working-memory/{session_id:path}",
    response_model=WorkingMemoryResponse,
    responses=_THE_SESSION,
)
async def put_working_memory(
    session_id: str,
    body: UpdateWorkingMemory,
    user_id: str | None = None,
    model_name: str | None = None,
    context_window_max: int | None = Query(None, ge=1, le=MAX_COUNT),
    service: WorkingMemoryService = Service,
) -> Response:
    """Replace the session (created if new). created_at is kept from the first write."""
    body.namespace, body.user_id = guard.session_write(
        body.namespace, body.user_id if body.user_id is not None else user_id, body.memories
    )
    return json_response(
        await service.put(
            session_id,
            body,
            user_id=body.user_id,
            model_name=model_name,
            context_window_max=context_window_max,
        )
    )


@router.post(
    "/v1/working-memory/{session_id:path}/messages",
    response_model=WorkingMemoryResponse,
    responses=_THE_SESSION,
)
async def append_messages(
    session_id: str,
    body: AppendMessages,
    namespace: str | None = None,
    user_id: str | None = None,
    model_name: str | None = None,
    context_window_max: int | None = Query(None, ge=1, le=MAX_COUNT),
    service: WorkingMemoryService = Service,
) -> Response:
    """Append messages atomically on the server (creating the session if needed)."""
    if body.namespace is None:
        body.namespace = namespace
    if body.user_id is None:
        body.user_id = user_id
    body.namespace, body.user_id = guard.session_write(body.namespace, body.user_id)
    return json_response(
        await service.append(
            session_id, body, model_name=model_name, context_window_max=context_window_max
        )
    )


@router.delete("/v1/working-memory/{session_id:path}", response_model=AckResponse)
async def delete_working_memory(
    session_id: str,
    namespace: str | None = None,
    user_id: str | None = None,
    service: WorkingMemoryService = Service,
) -> Response:
    namespace, user_id = guard.session_write(namespace, user_id)
    await service.delete(session_id, namespace=namespace, user_id=user_id)
    return json_response(AckResponse(status="ok"))
