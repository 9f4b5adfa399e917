"""What the two authenticating modes share: reading ``Authorization: Bearer <credential>``,
and writing refusals to the audit log, bounded; and the API-token authenticator itself.

The authenticators are built with the app, before its lifespan has connected to Redis, so they
take a function returning the app's ``Resources`` and call it on each request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from remem.auth.principal import Principal
from remem.auth.tokens import TokenStore, token_id_of
from remem.errors import Unauthenticated

log = logging.getLogger("remem.auth")

ResourcesOf = Callable[[], Any]  # -> remem.runtime.Resources (not imported: no cycle)


def bearer(authorization: str | None) -> str:
    """The credential of an ``Authorization: Bearer`` header; ``Unauthenticated`` saying what
    is wrong with any other."""
    if authorization is None:
        raise Unauthenticated("missing credentials: send Authorization: Bearer <token>")
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthenticated("malformed Authorization header: only the Bearer scheme is accepted")
    credential = credential.strip()
    if not credential or any(c.isspace() for c in credential):
        raise Unauthenticated("malformed Authorization header: Bearer then one credential")
    return credential


class FailureLog:
    """Auth refusals into the audit log: the reason and the token's public id when it has one,
    never the credential. A flood of bad credentials must not become a flood of writes, so at
    most ``burst`` entries, refilled at ``per_second``; the refusals left out are counted in
    the next entry (``suppressed``) and in the process log."""

    def __init__(self, resources: ResourcesOf, *, per_second: float = 20.0, burst: int = 50):
        self._resources = resources
        self.per_second = per_second
        self.burst = burst
        self._allowance = float(burst)
        self._at = time.monotonic()
        self.suppressed = 0

    async def refused(self, reason: str, credential: str | None, mode: str) -> None:
        now = time.monotonic()
        self._allowance = min(self.burst, self._allowance + (now - self._at) * self.per_second)
        self._at = now
        if self._allowance < 1:
            self.suppressed += 1
            return
        self._allowance -= 1
        details: dict[str, Any] = {"reason": reason, "mode": mode}
        token_id = token_id_of(credential) if credential else None
        if token_id is not None:
            details["token_id"] = token_id
        if self.suppressed:
            details["suppressed"], self.suppressed = self.suppressed, 0
        try:
            await self._resources().audit.record("auth.failure", None, outcome="refused", **details)
        except Exception:  # a 401 must stay a 401 when the audit write fails
            log.warning("could not write an auth failure to the audit log", exc_info=True)


class TokenAuthenticator:
    """``REMEM_AUTH_MODE=token``: API tokens (``remem.auth.tokens``). Every check reads Redis
    (one HGETALL), so a revoked token is refused by every process at once."""

    mode = "token"

    def __init__(self, resources: ResourcesOf, *, hash_key: str | None = None) -> None:
        self._resources = resources
        self._hash_key = hash_key
        self._store: TokenStore | None = None
        self.failures = FailureLog(resources)

    def tokens(self) -> TokenStore:
        res = self._resources()
        if self._store is None or self._store.redis is not res.redis:
            self._store = TokenStore(res.redis, res.keys, self._hash_key)
        return self._store

    async def authenticate(self, authorization: str | None) -> Principal:
        credential = None
        try:
            credential = bearer(authorization)
            info = await self.tokens().check(credential)
        except Unauthenticated as exc:
            await self.failures.refused(exc.detail, credential, self.mode)
            raise
        return info.principal()
