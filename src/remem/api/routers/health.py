"""GET /v1/health, and HEAD for probes that want the status alone."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Response

from remem import __version__
from remem.api.deps import resources
from remem.llm.status import llm_report
from remem.models.common import HealthCheckResponse
from remem.runtime import Resources
from remem.store.connection import ping

router = APIRouter(tags=["health"])


@router.get("/v1/health", response_model=HealthCheckResponse)
async def health(res: Resources = Depends(resources)) -> HealthCheckResponse:
    """Server time in epoch ms, and which features run with an LLM (or without, and why);
    503 when Redis does not answer."""
    await ping(res.redis)
    return HealthCheckResponse(
        now=int(time.time() * 1000),
        version=__version__,
        redis=res.versions,
        embedded_redis=res.embedded is not None,
        llm=llm_report(res.settings),
    )


@router.head(
    "/v1/health",
    response_class=Response,
    responses={200: {"description": "Redis answers (no body)"}},
)
async def health_probe(res: Resources = Depends(resources)) -> Response:
    """The health check for load balancers and uptime probes that send HEAD: 200 with no
    body, 503 when Redis does not answer (upstream answered 405). Reads nothing else: no
    versions, no LLM report."""
    await ping(res.redis)
    return Response(status_code=200)
