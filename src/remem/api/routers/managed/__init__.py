"""The managed Agent Memory API (what the ``redis-agent-memory`` 0.4.1 SDK calls), served over
the same data as remem's own API: a store is a namespace (docs/managed-api.md)."""

from __future__ import annotations

from fastapi import APIRouter

from remem.api.routers.managed import health, memories, namespaces, sessions

router = APIRouter()
router.include_router(health.router)
router.include_router(sessions.router)
router.include_router(memories.router)
router.include_router(namespaces.router)
