"""Summary views and tasks: /v1/summary-views and /v1/tasks/{task_id} (Agent Memory Server
0.15.2 paths and shapes, as agent-memory-client 0.14.0 calls them). The work is
``background.summary_views``'s; ``auth.guard`` says who may make views and in which scope a view
reads memories."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from remem.api.deps import summary_views
from remem.auth import guard
from remem.background.summary_views import SummaryViews
from remem.memory.identifiers import check_id
from remem.models.common import AckResponse
from remem.models.views import (
    CreateSummaryViewRequest,
    RunSummaryViewPartitionRequest,
    RunSummaryViewRequest,
    SummaryView,
    SummaryViewPartitionResult,
    Task,
)

router = APIRouter(tags=["summary views"])
Views = Depends(summary_views)


@router.post("/v1/summary-views", response_model=SummaryView)
async def create_summary_view(
    body: CreateSummaryViewRequest, views: SummaryViews = Views
) -> SummaryView:
    """Create a view (the server assigns its id). 400 for a source other than long_term, or
    group_by or filter fields other than user_id, namespace, session_id, memory_type."""
    guard.view_admin("creating a summary view")
    return await views.create(body)


@router.get("/v1/summary-views", response_model=list[SummaryView])
async def list_summary_views(views: SummaryViews = Views) -> list[SummaryView]:
    """Every view, in id (creation) order."""
    return await views.list_views()


@router.get("/v1/summary-views/{view_id}", response_model=SummaryView)
async def get_summary_view(view_id: str, views: SummaryViews = Views) -> SummaryView:
    return await views.get(view_id)


@router.delete("/v1/summary-views/{view_id}", response_model=AckResponse)
async def delete_summary_view(view_id: str, views: SummaryViews = Views) -> AckResponse:
    """Delete the view and the summaries stored for it (404 if there is no such view)."""
    guard.view_admin("deleting a summary view")
    await views.delete(view_id)
    return AckResponse(status="ok")


@router.post(
    "/v1/summary-views/{view_id}/partitions/run", response_model=SummaryViewPartitionResult
)
async def run_summary_view_partition(
    view_id: str, body: RunSummaryViewPartitionRequest, views: SummaryViews = Views
) -> SummaryViewPartitionResult:
    """Summarise one partition now and store the summary. ``group`` must give a value for
    exactly the view's group_by fields (else 400)."""
    return await views.run_partition(view_id, body.group, guard.view_scope(write=True))


@router.get(
    "/v1/summary-views/{view_id}/partitions", response_model=list[SummaryViewPartitionResult]
)
async def list_summary_view_partitions(
    view_id: str,
    user_id: str | None = Query(default=None),
    namespace: str | None = Query(default=None),
    session_id: str | None = Query(default=None),
    memory_type: str | None = Query(default=None),
    views: SummaryViews = Views,
) -> list[SummaryViewPartitionResult]:
    """The stored summaries (nothing is computed), those whose group has each value given."""
    given = {
        "user_id": user_id,
        "namespace": namespace,
        "session_id": session_id,
        "memory_type": memory_type,
    }
    wanted = {k: check_id(k, v) for k, v in given.items() if v is not None}
    return await views.list_partitions(view_id, wanted, guard.view_scope(write=False))


@router.post("/v1/summary-views/{view_id}/run", response_model=Task)
async def run_summary_view(
    view_id: str, body: RunSummaryViewRequest | None = None, views: SummaryViews = Views
) -> Task:
    """Start a full run in the background: a pending task to poll at /v1/tasks/{id}."""
    task_id = body.task_id if body is not None else None
    return await views.start_run(view_id, task_id, guard.view_scope(write=True))


@router.get("/v1/tasks/{task_id}", response_model=Task)
async def get_task(task_id: str, views: SummaryViews = Views) -> Task:
    """A task's record: pending, running, success or failed (with error_message). Records
    expire 7 days after their last change."""
    return await views.get_task(task_id)
