"""The keys of the Redis Agent Memory Server (AMS) in the Redis ``remem migrate`` takes over,
read and moved in bytes (legacy values need not be UTF-8): its working-memory sessions (read and
moved a batch at a time by two scripts, each session's move atomic), its sorted sets of session
ids, its long-term memory hashes, and the state a migration keeps between runs. The migration
itself (``maintenance.migrate``, ``maintenance.ams_memories``) decides what each becomes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio import Redis

from remem.errors import IncompatibleBackend
from remem.store.connection import is_cluster, open_redis, translates_errors

# The moves name an Agent Memory Server key and remem's key for it in one script: keys of two
# hash slots, which a Redis Cluster refuses (CROSSSLOT), and the Agent Memory Server ran on a
# single Redis anyway.
MIGRATE_ON_CLUSTER = (
    "REDIS_URL names a node of a Redis Cluster: remem migrate runs on a single Redis (it moves "
    "each key to its new name in one script, which a cluster refuses across hash slots); "
    "migrate on the single Redis the Agent Memory Server used, then copy long-term memories to "
    "the cluster with `remem memories export | remem memories import -`"
)

_READ = """
local out = {}
for i, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key).ok
  if t == 'string' then out[i] = {t, redis.call('GET', key)}
  elseif t == 'ReJSON-RL' then out[i] = {t, redis.call('JSON.GET', key)}
  else out[i] = {t} end
end
return out
"""

# KEYS: legacy and new key of each session in turn; ARGV: the new documents.
_MOVE = """
local out = {}
for i, doc in ipairs(ARGV) do
  local old, new = KEYS[2 * i - 1], KEYS[2 * i]
  local pttl = redis.call('PTTL', old)
  if pttl == -2 then
    out[i] = 'expired'
  elseif redis.call('EXISTS', new) == 1 then
    redis.call('DEL', old)
    out[i] = 'present'
  else
    local set = redis.pcall('JSON.SET', new, '$', doc)
    if type(set) == 'table' and set.err then
      out[i] = set.err
    else
      if pttl > 0 then
        local now = redis.call('TIME')
        local at = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + pttl
        redis.call('JSON.SET', new, '$.expires_at', string.format('%.3f', at / 1000))
        redis.call('PEXPIREAT', new, string.format('%d', at))
      else
        redis.call('JSON.SET', new, '$.expires_at', 'null')
      end
      redis.call('DEL', old)
      out[i] = 'moved'
    end
  end
end
return out
"""


async def refuse_cluster(url: str | None, timeout: float) -> None:
    """Raise ``IncompatibleBackend`` when ``url`` names a node of a Redis Cluster (asked as
    ``open_redis`` asks: ``INFO cluster``), before a migration touches anything. None (the
    embedded Redis) is never a cluster."""
    if url is None:
        return
    # Only whether it is a cluster matters here, not its Query Engine's coordinator.
    redis = await open_redis(url, timeout=timeout, max_connections=2, coordinator=False)
    try:
        if is_cluster(redis):
            raise IncompatibleBackend(MIGRATE_ON_CLUSTER)
    finally:
        await redis.aclose()


@translates_errors
class LegacySource:
    def __init__(self, raw: Redis) -> None:
        self.raw = raw
        self._read = raw.register_script(_READ)
        self._move = raw.register_script(_MOVE)

    @classmethod
    def from_url(cls, url: str, timeout: float) -> LegacySource:
        return cls(Redis.from_url(url, socket_timeout=timeout))

    async def close(self) -> None:
        await self.raw.aclose()

    async def keys(self, pattern: str, batch: int, kind: str | None = None) -> list[bytes]:
        """The keys matching ``pattern`` (of Redis type ``kind``), listed once each before
        anything changes them (SCAN meets keys being written, and can repeat keys)."""
        scan = self.raw.scan_iter(match=pattern, count=batch, _type=kind)
        return list(dict.fromkeys([key async for key in scan]))

    async def count(self, pattern: str) -> int:
        return len(await self.keys(pattern, 1000))

    async def read_sessions(self, keys: Sequence[bytes]) -> list[list[Any]]:
        """Each key's Redis type and, for a STRING or a JSON document, its value."""
        return cast(list[list[Any]], await self._read(keys=keys))

    async def move_sessions(self, pairs: Sequence[str | bytes], docs: Sequence[str]) -> list[bytes]:
        """Write each document at its new key (legacy and new key in turn in ``pairs``) with
        the legacy key's remaining TTL, unless one is there, and delete the legacy key: per
        session ``moved``, ``present``, ``expired`` or Redis's refusal."""
        return cast(list[bytes], await self._move(keys=pairs, args=docs)) if docs else []

    async def exist(self, keys: Sequence[str]) -> list[bool]:
        async with self.raw.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.exists(key)
            return [bool(n) for n in await pipe.execute()]

    async def delete(self, *keys: str | bytes) -> None:
        if keys:
            await self.raw.delete(*keys)

    async def get(self, key: str | bytes) -> bytes | None:
        return cast(bytes | None, await self.raw.get(key))

    async def set(self, key: str, value: str) -> None:
        await self.raw.set(key, value)

    async def rows(self, keys: Sequence[str]) -> list[dict[bytes, bytes]]:
        """Each hash's fields (empty where it is gone), in one round trip."""
        async with self.raw.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            return cast(list[dict[bytes, bytes]], await pipe.execute())

    async def set_members(self, key: str) -> list[bytes]:
        """The members of a set (none when it is missing)."""
        return cast(list[bytes], list(await self.raw.smembers(key)))

    async def remove_members(self, key: str, *members: str) -> None:
        if members:
            await self.raw.srem(key, *members)

    async def members(self, key: bytes, batch: int) -> list[bytes]:
        """The members of a sorted set."""
        return [m async for m, _ in self.raw.zscan_iter(key, count=batch)]
