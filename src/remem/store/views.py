"""Summary views, their partition summaries and task records in Redis, as JSON strings.

- views: one hash, ``<prefix>views`` (view id -> view JSON): one HGETALL lists them all;
- summaries: one hash a view, ``<prefix>view:<id>:results`` (partition key -> result JSON),
  deleted with its view (the upstream server left them behind);
- tasks: one string a task, ``<prefix>task:<id>``, expiring ``TASK_TTL`` seconds after its last
  change, as upstream's (7 days): task records are operational, not memories.

The store knows JSON text and keys; what the values mean is ``background.summary_views``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, unquote

from redis.asyncio import Redis
from redis.exceptions import WatchError

from remem.errors import Conflict
from remem.store.connection import translates_errors
from remem.store.keys import Keys

TASK_TTL = 7 * 86_400
UPDATE_ATTEMPTS = 10  # concurrent changes of one task record before giving up (Conflict)


def partition_key(scope: dict[str, str], group: dict[str, str]) -> str:
    """A stable field name for a partition computed within ``scope``: ``k=v`` pairs in key order,
    each part percent-encoded so no value can pose as a separator, scope and group apart."""

    def pairs(values: dict[str, str]) -> str:
        return "&".join(f"{quote(k, safe='')}={quote(values[k], safe='')}" for k in sorted(values))

    return f"{pairs(scope)}|{pairs(group)}"


def scope_of(key: str) -> dict[str, str]:
    """The scope a ``partition_key`` was computed within."""
    scope, _, _ = key.partition("|")
    return {unquote(k): unquote(v) for k, _, v in (p.partition("=") for p in scope.split("&") if p)}


@translates_errors
class ViewStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    # -- views -----------------------------------------------------------------------------
    async def save_view(self, view_id: str, view_json: str) -> None:
        await self.redis.hset(self.keys.summary_views, view_id, view_json)

    async def get_view(self, view_id: str) -> str | None:
        value = await self.redis.hget(self.keys.summary_views, view_id)
        return None if value is None else str(value)

    async def list_views(self) -> list[str]:
        views = await self.redis.hgetall(self.keys.summary_views)
        return [str(views[k]) for k in sorted(views, key=str)]

    async def delete_view(self, view_id: str) -> bool:
        """Delete a view and its summaries; whether it existed."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.keys.summary_views, view_id)
            pipe.delete(self.keys.summary_view_results(view_id))
            deleted, _ = await pipe.execute()
        return bool(deleted)

    # -- partition summaries -----------------------------------------------------------------
    async def save_result(self, view_id: str, key: str, result_json: str) -> None:
        await self.redis.hset(self.keys.summary_view_results(view_id), key, result_json)

    async def delete_results(self, view_id: str, keys: list[str]) -> None:
        if keys:
            await self.redis.hdel(self.keys.summary_view_results(view_id), *keys)

    async def list_results(self, view_id: str) -> dict[str, str]:
        """Partition key -> result JSON, for every summary stored for the view."""
        results = await self.redis.hgetall(self.keys.summary_view_results(view_id))
        return {str(k): str(v) for k, v in results.items()}

    # -- tasks -------------------------------------------------------------------------------
    async def create_task(self, task_id: str, task_json: str) -> str | None:
        """Store a new task record; if the id is taken, the stored record instead (None: stored)."""
        key = self.keys.task(task_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, task_json, nx=True, ex=TASK_TTL)
            pipe.get(key)
            created, stored = await pipe.execute()
        return None if created else stored

    async def get_task(self, task_id: str) -> str | None:
        value = await self.redis.get(self.keys.task(task_id))
        return None if value is None else str(value)

    async def update_task(self, task_id: str, change: Callable[[str], str | None]) -> str | None:
        """Apply ``change`` to the stored record atomically (WATCH/MULTI, retried when another
        writer got in between). ``change`` returns the new JSON, or None to leave the record as
        it is. Returns what is stored afterwards; None when there is no such task."""
        key = self.keys.task(task_id)
        for _ in range(UPDATE_ATTEMPTS):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    current = await pipe.get(key)
                    if current is None:
                        return None
                    new = change(str(current))
                    if new is None:
                        return str(current)
                    pipe.multi()
                    pipe.set(key, new, ex=TASK_TTL)
                    await pipe.execute()
                    return new
                except WatchError:
                    continue
        raise Conflict(f"task {task_id!r} kept changing under {UPDATE_ATTEMPTS} updates")
