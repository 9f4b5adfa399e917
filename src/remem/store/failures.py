"""Failed task runs, the newest ``KEPT`` (``GET /v1/tasks``, the console's tasks page).

Docket keeps a run's record for 15 minutes under the run's key only, with no way to list the
runs that failed, so remem keeps its own short list: one stream entry a failed run (the task
key, the task, the error's type and first line, the attempt, whether retries are exhausted),
capped at ``KEPT`` entries. An entry names its session, so erasing the session removes it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remem.store.connection import translates_errors
from remem.store.keys import Keys

if TYPE_CHECKING:
    from redis.asyncio import Redis

KEPT = 200
MAX_ERROR_CHARS = 300


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(entry: Any) -> dict[str, str]:
    """A stream entry's fields as text (the connection may answer bytes)."""
    return {_text(k): _text(v) for k, v in (entry[1] or {}).items()}


def session_of(task_key: str) -> str:
    """The session key a task key names: ``<kind>:<session key>`` or
    ``summarize:<window>:<session key>`` (anything else names no session: returned as is)."""
    kind, _, rest = task_key.partition(":")
    return rest.partition(":")[2] if kind == "summarize" else rest


@translates_errors
@dataclass
class TaskFailures:
    redis: Redis
    keys: Keys

    async def record(self, key: str, task: str, error: str, attempt: int, final: bool) -> None:
        fields = {
            "key": key,
            "task": task,
            "error": error[:MAX_ERROR_CHARS],
            "attempt": str(attempt),
            "final": "1" if final else "0",
            "at": repr(time.time()),
        }
        await self.redis.xadd(self.keys.task_failures, fields, maxlen=KEPT, approximate=False)  # type: ignore[arg-type]

    async def recent(self, limit: int) -> list[dict[str, str]]:
        """The newest ``limit`` failures, newest first."""
        entries = await self.redis.xrevrange(self.keys.task_failures, count=limit)
        return [_fields(entry) for entry in entries or ()]

    async def forget(self, session_keys: Sequence[str]) -> int:
        """Remove the failures of these sessions (erased); how many went."""
        wanted = set(session_keys)
        entries = await self.redis.xrange(self.keys.task_failures)  # at most KEPT
        gone = [
            _text(entry[0])
            for entry in entries or ()
            if session_of(_fields(entry).get("key", "")) in wanted
        ]
        if gone:
            await self.redis.xdel(self.keys.task_failures, *gone)
        return len(gone)
