"""GET /metrics: the Prometheus text format (``remem.metrics``), for the admin only when auth
is on: the figures describe every tenant's load."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from remem import metrics
from remem.api.deps import resources
from remem.auth import guard
from remem.runtime import Resources

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {metrics.CONTENT_TYPE: {}}, "description": "The metrics"}},
)
async def scrape(res: Resources = Depends(resources)) -> Response:
    """Every metric of this process (or of every process sharing PROMETHEUS_MULTIPROC_DIR), the
    due-work gauges read from Redis now. Needs the admin role over every namespace."""
    guard.metrics()
    waiting, age = await res.working.store.due.backlog()
    metrics.DUE.set(waiting)
    metrics.DUE_OLDEST.set(age)
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
