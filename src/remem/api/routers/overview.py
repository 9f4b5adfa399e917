"""What the console shows beside the data: ``GET /v1/namespaces`` (any caller, within its
scope), ``GET /v1/tasks`` and ``GET /v1/tokens`` (the admin over everything). remem only."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from remem.api.deps import resources
from remem.auth import guard
from remem.auth.context import caller
from remem.models.overview import NamespaceList, TaskOverview, TokenView
from remem.runtime import Resources
from remem.tasks.status import task_overview
from remem.tenants.namespaces import list_namespaces
from remem.tenants.tokens import list_tokens, revoke_token

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
    patterns, user_id = guard.namespace_listing()
    return await list_namespaces(res, patterns, user_id, limit=limit, offset=offset)


@router.get("/v1/tasks", response_model=TaskOverview)
async def tasks(
    limit: int = Query(default=50, ge=1, le=MAX_PAGE), res: Resources = Res
) -> TaskOverview:
    """Background work now: the due set (how many members, how many due now and how long the
    oldest has waited, the ``limit`` soonest with the session each is for), Docket's queue
    length, its running and scheduled executions (``limit`` of each) and its workers. Docket
    keeps no readable list of failed runs: see the worker's log and ``/metrics``. Needs the
    admin role over every namespace (the keys name every tenant's sessions)."""
    guard.admin_overview("reading background work")
    return await task_overview(res.tasks, limit)


@router.get("/v1/tokens", response_model=list[TokenView])
async def tokens(res: Resources = Res) -> list[TokenView]:
    """Every API token's metadata, oldest first: id, namespaces, role, user, status and dates
    (never a secret: none is stored). Needs the admin role over every namespace."""
    guard.admin_overview("reading the API tokens")
    return await list_tokens(res)


@router.delete("/v1/tokens/{token_id}", response_model=TokenView)
async def revoke(token_id: str, res: Resources = Res) -> TokenView:
    """Revoke a token: every server refuses it from now on (404 for an unknown id). Kept in
    the audit log. Needs the admin role over every namespace."""
    guard.admin_overview("revoking a token")
    return await revoke_token(res, caller(), token_id)
