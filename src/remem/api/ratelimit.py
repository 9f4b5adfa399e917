"""``RateLimit``: a pure ASGI middleware that answers 429 (with Retry-After) to a caller past
its allowance, before any route runs. Placed inside ``Authenticate``: it reads the caller from
``scope["state"]["principal"]`` and counts per principal subject (a token, a JWT subject, or
``local``), in Redis, so every process serving shares one count per caller.

Off unless ``REMEM_RATE_LIMIT_PER_MINUTE`` is set. Requests served without a caller (health,
the OpenAPI document) are not counted. When Redis cannot be asked, the request goes on (the
limit must not add an outage of its own; the request then meets Redis's absence itself).
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from remem.api.errors import error_response
from remem.auth.principal import Principal
from remem.errors import BackendUnavailable, RateLimited
from remem.store.ratelimit import RateLimiter, retry_after

log = logging.getLogger("remem.api")


class RateLimit:
    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.per_minute = per_minute
        self._limiter: RateLimiter | None = None

    def _limiter_of(self, scope: Scope) -> RateLimiter:
        if self._limiter is None:  # the app's Redis exists once its lifespan has started
            res = scope["app"].state.resources
            self._limiter = RateLimiter(res.redis, res.keys, self.per_minute)
        return self._limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal") if scope["type"] == "http" else None
        if not isinstance(principal, Principal):
            await self.app(scope, receive, send)
            return
        try:
            wait = await self._limiter_of(scope).wait(principal.subject)
        except BackendUnavailable as exc:
            log.warning("rate limit not checked: %s", exc.detail)
            wait = 0.0
        if wait > 0:
            seconds = retry_after(wait)
            refusal = RateLimited(
                f"more than {self.per_minute} requests a minute from this caller; retry in "
                f"{seconds} s",
                retry_after_seconds=seconds,
            )
            await error_response(refusal, scope.get("path", ""))(scope, receive, send)
            return
        await self.app(scope, receive, send)
