"""The managed Agent Memory API (what the ``redis-agent-memory`` 0.4.1 SDK calls), served over
the same data as remem's own API: a store is a namespace (docs/managed-api.md)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Match
from starlette.types import Scope

from remem.api.routers.managed import health, memories, namespaces, sessions


class StoreRouter(APIRouter):
    """The managed routes, which the app walks first: a path outside them (not ``/health`` nor
    under ``/v1/stores/``) is passed over without trying each route. FastAPI matches a request
    by walking the routers included in the app in turn, so these routes, included last, paid
    a walk of every other router's routes, about 100 µs a request (bench/managed_cost.py)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path != "/health" and not path.startswith("/v1/stores/"):
            return Match.NONE, {}
        return super().matches(scope)


# One router of their routes, not a router of routers: each level of nesting is a walk more.
# The health routes last: every other managed request would try them first.
router = StoreRouter()
for part in (sessions, memories, namespaces, health):
    router.routes.extend(part.router.routes)
