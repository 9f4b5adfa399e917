"""What the console shows beside the data: ``GET /v1/namespaces`` (any caller, within its
scope), ``GET /v1/tasks`` and ``GET /v1/tokens`` (the admin over everything). remem only."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from remem.api.deps import resources
from remem.auth import guard
from remem.models.overview import NamespaceList
from remem.runtime import Resources
from remem.tenants.namespaces import list_namespaces

router = APIRouter(tags=["overview"])
Res = Depends(resources)
MAX_PAGE = 1_000


@router.get("/v1/namespaces", response_model=NamespaceList)
async def namespaces(
    limit: int = Query(default=100, ge=1, le=MAX_PAGE),
    offset: int = Query(default=0, ge=0),
    res: Resources = Res,
) -> NamespaceList:
    """The namespaces the caller may see that hold anything (a live session or a long-term
    memory), sorted by name, with how many of each they hold; a token bound to one user
    counts that user's only. ``total`` is exact."""
    allowed, user_id = guard.namespace_listing()
    return await list_namespaces(res, allowed, user_id, limit=limit, offset=offset)
