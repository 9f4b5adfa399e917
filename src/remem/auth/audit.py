"""The audit log: admin actions, erasures and authentication failures, each one entry in a
Redis stream (``<prefix>audit``, capped near ``max_entries``) and one JSON line on the
``remem.audit`` logger.

An entry says what happened (``action``), who did it (the principal's subject and how it
proved it, or ``anonymous``), whether it worked (``outcome``), when, and details of the action.
Secrets never go in: an auth failure records the reason and the token's public id if it has
one, never the token.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from remem.auth.principal import Principal
from remem.store.audit import AuditStream

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from remem.store.keys import Keys

logger = logging.getLogger("remem.audit")


class AuditLog:
    def __init__(self, redis: Redis, keys: Keys, *, max_entries: int = 100_000) -> None:
        self.stream = AuditStream(redis, keys, max_entries)

    async def record(
        self,
        action: str,
        caller: Principal | None,
        *,
        outcome: str = "ok",
        **details: Any,
    ) -> str:
        """Append one entry; returns its stream id. ``details`` must be JSON-able."""
        entry = {
            "action": action,
            "outcome": outcome,
            "caller": caller.subject if caller is not None else "anonymous",
            "via": caller.via if caller is not None else "none",
            "at": time.time(),
            "details": details,
        }
        line = json.dumps(entry, separators=(",", ":"), default=str)
        logger.info(line)
        return await self.stream.append(line)

    async def entries(self, count: int = 100) -> list[dict[str, Any]]:
        """The newest ``count`` entries, newest first, each with its ``id``."""
        return [{**json.loads(line), "id": i} for i, line in await self.stream.newest(count)]
