"""Erase, export and the audit log: ``POST /v1/erasures``, ``GET /v1/export``,
``GET /v1/audit`` (remem only; the upstream server has none of them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from remem.api.deps import resources
from remem.auth import guard
from remem.auth.context import caller
from remem.models.erasure import ErasureReceipt, ErasureRequest
from remem.runtime import Resources
from remem.tenants.erase import erase
from remem.tenants.export import export_lines

router = APIRouter(tags=["security"])
Res = Depends(resources)
MAX_AUDIT_ENTRIES = 1_000


@router.post("/v1/erasures", response_model=ErasureReceipt)
async def create_erasure(body: ErasureRequest, res: Resources = Res) -> ErasureReceipt:
    """Erase everything of a user (everywhere, or within ``namespace``) or of a namespace:
    working-memory sessions, long-term memories, their access counters, and the sessions'
    pending tasks. The receipt (counts per kind, start and end, who asked) is also kept in the
    audit log. A namespace needs the admin role; a user needs write and a scope covering them."""
    return await erase(res, caller(), user_id=body.user_id, namespace=body.namespace)


@router.get(
    "/v1/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "JSON Lines"}},
)
async def export(
    user_id: str | None = None, namespace: str | None = None, res: Resources = Res
) -> StreamingResponse:
    """Everything of a user or a namespace the caller may see, streamed as JSON Lines in the
    format of ``remem memories export`` (header, then memories), with the sessions as lines of
    ``"kind": "working_memory"`` before the memories. ``remem memories import`` reads it."""
    who = caller()
    user, ns = guard.export(user_id, namespace)
    await res.audit.record("export", who, user_id=user, namespace=ns)
    lines = export_lines(res, who, user_id=user, namespace=ns)
    return StreamingResponse(lines, media_type="application/x-ndjson")


@router.get("/v1/audit")
async def audit(
    limit: int = Query(default=100, ge=1, le=MAX_AUDIT_ENTRIES), res: Resources = Res
) -> list[dict[str, Any]]:
    """The newest audit log entries, newest first: erasures, exports, admin actions and
    authentication failures. Needs the admin role over every namespace (the entries name
    every tenant's users and namespaces)."""
    guard.audit_log()
    return await res.audit.entries(limit)
