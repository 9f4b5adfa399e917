"""The due set on a Redis Cluster: one per namespace, in its slot, and a registry to find them.

On a single Redis every write marks its session in one sorted set (``store.due``). On a cluster
the write's script may only name keys of the session's slot, so each namespace has its own due
set and due-since hash, tagged with the namespace's hash tag (``Keys.due_set``); periodic work
has the set of ``PERIODIC_TAG``. The same scripts run on each set, so marks, leases and settling
mean what they mean on one Redis.

Pollers find the sets through a registry: ``DUE_REGISTRIES`` small sets of tags (a tag's shard
by CRC32, so their load spreads over several primaries). After marking, a writer adds its tag
(``SADD``, after the script: the mark is in the set before the tag can be seen). A poller that
settles a set which then holds nothing removes its tag, then looks at the set once more and adds
the tag back if a write filled it meanwhile. Whatever the interleaving, a set holding a member
is registered: a write's ``SADD`` comes after its ``ZADD``, and a removal is followed by a
second look.

What a poll costs grows with the namespaces that have work due (a claim script each, pipelined),
not with the namespaces there are.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from remem.store.connection import translates_errors
from remem.store.due import Claim, DueSet, delay_arg
from remem.store.keys import DUE_REGISTRIES, Keys


def registry_shard(tag: str) -> int:
    return zlib.crc32(tag.encode()) % DUE_REGISTRIES


@translates_errors
@dataclass
class ClusterDueSet(DueSet):
    """``store.due.DueSet`` over one due set per namespace (see the module)."""

    async def register(self, tag: str) -> None:
        """Make the due set of ``tag`` findable (after a mark in it: see the module)."""
        await self.redis.sadd(self.keys.due_registry(registry_shard(tag)), tag)

    async def mark(self, kind: str, what: str, delay: float, max_wait: float | None = None) -> None:
        tag = self.keys.due_tag(what)
        due, since = self.keys.due_set(tag)
        await self._mark(keys=[what, due, since], args=[kind, delay_arg(delay, max_wait)])
        await self.register(tag)

    async def seed(self, member: str, delay: float) -> bool:
        tag = self.keys.due_tag(member)
        added = bool(await self._seed(keys=[self.keys.due_set(tag)[0]], args=[member, repr(delay)]))
        await self.register(tag)
        return added

    async def tags(self) -> list[str]:
        """The registered tags: every due set that may hold a member."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in range(DUE_REGISTRIES):
                pipe.smembers(self.keys.due_registry(shard))
            found = await pipe.execute()
        return sorted({str(tag) for members in found for tag in members})

    async def claim(self, limit: int, lease_seconds: float) -> Claim:
        """Up to ``limit`` members due now from the registered sets, each leased in its own
        set for ``lease_seconds``."""
        members: list[str] = []
        leases: list[str] = []
        for tag in await self.tags():
            room = limit - len(members)
            if room <= 0:
                break
            due = self.keys.due_set(tag)[0]
            reply = await self._claim(keys=[due], args=[room, repr(lease_seconds)])
            text = [r.decode() if isinstance(r, bytes) else str(r) for r in reply or []]
            members += text[1:]
            leases += [text[0]] * (len(text) - 1) if text else []
        return Claim(members, leases[0] if leases else "", tuple(leases))

    async def done(self, claim: Claim, next_seconds: Sequence[float | None]) -> int:
        """``DueSet.done`` set by set; a set left empty is unregistered (see the module)."""
        grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
        for member, lease, after in zip(claim.members, claim.leases, next_seconds, strict=True):
            grouped[(self.keys.due_tag(member), lease)] += [
                member,
                "" if after is None else repr(float(after)),
            ]
        settled = 0
        for (tag, lease), pairs in grouped.items():
            settled += int(
                await self._done(keys=list(self.keys.due_set(tag)), args=[lease, *pairs])
            )
        await self.prune({tag for tag, _ in grouped})
        return settled

    async def prune(self, tags: Iterable[str]) -> None:
        """Unregister the sets of ``tags`` that hold nothing, looking again after each removal
        so that a set filled meanwhile stays registered."""
        for tag in tags:
            due, registry = self.keys.due_set(tag)[0], self.keys.due_registry(registry_shard(tag))
            if await self.redis.zcard(due):
                continue
            await self.redis.srem(registry, tag)
            if await self.redis.zcard(due):
                await self.redis.sadd(registry, tag)

    async def remove(self, member: str) -> None:
        due, since = self.keys.due_set(self.keys.due_tag(member))
        await self.redis.zrem(due, member)
        await self.redis.hdel(since, member)

    async def backlog(self) -> tuple[int, float]:
        """``DueSet.backlog`` over every registered set (now by one primary's clock)."""
        seconds, micros = await self.redis.time()
        now = seconds + micros / 1e6
        count, oldest = 0, now
        for tag in await self.tags():
            due = self.keys.due_set(tag)[0]
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zcount(due, "-inf", repr(now))
                pipe.zrangebyscore(due, "-inf", repr(now), start=0, num=1, withscores=True)
                found, first = await pipe.execute()
            count += int(found)
            oldest = min([oldest, *(float(score) for _, score in first)])
        return count, now - oldest

    async def upcoming(self, limit: int) -> tuple[int, list[tuple[str, float]]]:
        """``DueSet.upcoming`` merged over every registered set, soonest first."""
        total, soonest = 0, []
        for tag in await self.tags():
            due = self.keys.due_set(tag)[0]
            total += int(await self.redis.zcard(due))
            found: list[Any] = await self.redis.zrange(due, 0, limit - 1, withscores=True)
            soonest += [(str(m), float(s)) for m, s in found]
        return total, sorted(soonest, key=lambda pair: (pair[1], pair[0]))[:limit]

    async def score(self, member: str) -> float | None:
        found = await self.redis.zscore(self.keys.due_set(self.keys.due_tag(member))[0], member)
        return None if found is None else float(found)

    async def forget(self, session_keys: Sequence[str]) -> int:
        """``DueSet.forget``, in each session's own set."""
        removed = 0
        by_tag: dict[str, set[str]] = defaultdict(set)
        for key in session_keys:
            by_tag[self.keys.due_tag(key)].add(key)
        for tag, wanted in by_tag.items():
            due, since = self.keys.due_set(tag)
            members = [f"{k}:{s}" for s in wanted for k in ("promote", "extract")]
            async for member, _ in self.redis.zscan_iter(due, match="summarize:*"):
                if member.split(":", 2)[-1] in wanted:
                    members.append(member)
            removed += int(await self.redis.zrem(due, *members))
            await self.redis.hdel(since, *members)
        return removed


def due_set(redis: Redis, keys: Keys) -> DueSet:
    """The due set ``keys`` name: one for everything on a single Redis, per namespace on a
    cluster."""
    return ClusterDueSet(redis, keys) if keys.cluster else DueSet(redis, keys)
