"""GET /v1/health."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends

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
