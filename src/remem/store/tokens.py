"""What Redis keeps of API tokens (``auth.tokens`` says what a token is and how it is checked):
one hash a token under ``<prefix>{auth}:token:<digest>``, an index ``<prefix>{auth}:tokens``
(public id -> digest), and the HMAC key made by the first process that needed one."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from remem.store.connection import translates_errors
from remem.store.keys import Keys

_REVOKE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'revoked_at') == 0 then
  redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1])
end
return 1
"""


@translates_errors
class TokenRecords:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def hash_key(self, mine: str) -> str:
        """The key every process uses: the one already kept, else ``mine`` (SET NX GET)."""
        theirs: Any = await self.redis.set(self.keys.auth_hash_key, mine, nx=True, get=True)
        return str(theirs or mine)

    async def add(
        self, token_id: str, digest: str, fields: dict[str, str], expires_at: float | None
    ) -> None:
        """Keep a new token's record (gone from Redis at ``expires_at``) and index it."""
        key = self.keys.auth_token(digest)
        async with self.redis.pipeline(transaction=True) as tx:
            tx.hset(key, mapping=fields)  # type: ignore[arg-type]
            if expires_at is not None:
                tx.pexpireat(key, int(expires_at * 1000) + 1)
            tx.hset(self.keys.auth_tokens, token_id, digest)
            await tx.execute()

    async def get(self, digest: str) -> dict[str, str]:
        """The record of the token with ``digest``; empty if there is none."""
        fields: Any = await self.redis.hgetall(self.keys.auth_token(digest))
        return dict(fields)

    async def every(self) -> list[tuple[str, dict[str, str]]]:
        """Every indexed token's id and record (empty where Redis expired it), in one round
        trip after the index."""
        index: Any = await self.redis.hgetall(self.keys.auth_tokens)
        if not index:
            return []
        ids = list(index)
        async with self.redis.pipeline(transaction=False) as pipe:
            for token_id in ids:
                pipe.hgetall(self.keys.auth_token(index[token_id]))
            records = await pipe.execute()
        return [(i, dict(r)) for i, r in zip(ids, records, strict=True)]

    async def forget(self, *token_ids: str) -> None:
        """Drop index entries (of tokens Redis expired)."""
        if token_ids:
            await self.redis.hdel(self.keys.auth_tokens, *token_ids)

    async def digest_of(self, token_id: str) -> str | None:
        digest: Any = await self.redis.hget(self.keys.auth_tokens, token_id)
        return None if digest is None else str(digest)

    async def revoke(self, digest: str, at: float) -> dict[str, str]:
        """Mark the record revoked at ``at`` (kept if already), only while it exists (an HSET
        on an expired token would recreate half of it); the record after, empty if gone."""
        key = self.keys.auth_token(digest)
        if not await self.redis.eval(_REVOKE, 1, key, repr(at)):
            return {}
        fields: Any = await self.redis.hgetall(key)
        return dict(fields)
