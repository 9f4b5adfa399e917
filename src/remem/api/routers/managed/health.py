"""``GET /health`` and ``GET /v1/stores/{storeId}/health`` of the managed API."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from remem.api.deps import resources
from remem.auth import guard
from remem.errors import BackendUnavailable
from remem.models.managed import FeatureHealth, Health, StoreHealth
from remem.runtime import Resources
from remem.store.connection import ping

router = APIRouter(tags=["managed API"])
FEATURES = ("sessionMemory", "longTermMemory", "search")


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The server answers (holds no data: served without credentials)."""
    return Health()


@router.get("/v1/stores/{storeId}/health", response_model=StoreHealth)
async def store_health(
    store_id: str = Path(alias="storeId"), res: Resources = Depends(resources)
) -> StoreHealth:
    """``healthy`` when Redis answers, else ``unavailable``, for each feature alike."""
    guard.store(store_id)
    try:
        await ping(res.redis)
        status = "healthy"
    except BackendUnavailable:
        status = "unavailable"
    features = {name: FeatureHealth(status=status) for name in FEATURES}
    return StoreHealth(status=status, features=features)
