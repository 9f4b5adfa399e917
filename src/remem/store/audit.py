"""The audit log's entries in Redis: one stream (``<prefix>audit``) capped near a length, each
entry one JSON line (``auth.audit`` decides what an entry says)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from remem.store.connection import translates_errors
from remem.store.keys import Keys


@translates_errors
class AuditStream:
    def __init__(self, redis: Redis, keys: Keys, max_entries: int) -> None:
        self.redis = redis
        self.key = keys.audit
        self.max_entries = max_entries

    async def append(self, line: str) -> str:
        """Append one entry; its stream id."""
        entry_id = await self.redis.xadd(
            self.key, {"entry": line}, maxlen=self.max_entries, approximate=True
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def newest(self, count: int) -> list[tuple[str, str]]:
        """The newest ``count`` entries' ids and lines, newest first."""
        rows: Any = await self.redis.xrevrange(self.key, count=count)
        return [
            (i.decode() if isinstance(i, bytes) else i, fields.get(b"entry") or fields["entry"])
            for i, fields in rows
        ]
