"""Background work that is due, as a sorted set (``Keys.tasks_due``): member ``<kind>:<what>``
(``extract:<session key>``, ``periodic:compact``...), score the epoch second it is due, on
Redis's clock (``TIME``), so every process agrees on it.

Writes mark their session due inside their own script (``DUE_LUA``), moving the score later on
every write (a trailing debounce); workers ``claim`` what is due and hand it to the task queue
(``tasks.poller``). Why not schedule on the task queue in the write: pydocket costs about 230 us
of CPU a schedule, which halved the new-session PUTs a server serves; a ZADD in the script
costs a few microseconds of Redis.

A claim is a lease, not a removal: the claimed members' score moves to ``lease`` seconds ahead,
so a worker that dies before it scheduled them leaves them to be claimed again then. ``done``
removes (or, for periodic work, re-arms) a member only if its score is still the lease: a
write that marked the session again while it was being scheduled keeps its later score, so it
is scheduled again after its own debounce and nothing written is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from redis.asyncio import Redis

from remem.store.connection import translates_errors
from remem.store.keys import Keys

# A Lua function for write scripts whose KEYS[1] is the session, KEYS[2] the due set and
# KEYS[3] the due-since hash: due(kind, delay) marks the session due in ``delay`` seconds
# ('': not at all). ``delay`` may be "<seconds>/<max wait>": then the mark is never later than
# max wait after the batch's first mark (kept in KEYS[3] while the member is in the set), so a
# session written more often than the debounce still gets its work done every max wait.
DUE_LUA = """
local function due(kind, delay)
  if delay == '' then return end
  local seconds, cap = string.match(delay, '^([^/]+)/?(.*)$')
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local member = kind .. ':' .. KEYS[1]
  local at = now + tonumber(seconds)
  if cap ~= '' and tonumber(cap) > 0 then
    local since = redis.call('HGET', KEYS[3], member)
    if since == false or redis.call('ZSCORE', KEYS[2], member) == false then
      since = now
      redis.call('HSET', KEYS[3], member, string.format('%.6f', now))
    end
    at = math.min(at, tonumber(since) + tonumber(cap))
  end
  redis.call('ZADD', KEYS[2], string.format('%.6f', at), member)
end
"""

_MARK = (
    DUE_LUA
    + """
due(ARGV[1], ARGV[2])
"""
)

# ZADD NX: due in ARGV[2] seconds unless the member is already in the set.
_SEED = """
local t = redis.call('TIME')
local at = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[2])
return redis.call('ZADD', KEYS[1], 'NX', string.format('%.6f', at), ARGV[1])
"""

# Up to ARGV[1] members due now; their score becomes now + ARGV[2] (the lease, returned first).
_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now),
  'LIMIT', 0, tonumber(ARGV[1]))
if #members == 0 then return {} end
local lease = string.format('%.6f', now + tonumber(ARGV[2]))
for _, m in ipairs(members) do redis.call('ZADD', KEYS[1], 'XX', lease, m) end
table.insert(members, 1, lease)
return members
"""

# For each pair (member, next) of ARGV[2..] whose score is still the lease ARGV[1]: remove it
# (next '') or make it due next seconds from now. Returns how many. Every claimed member's
# batch start (KEYS[2]) is forgotten: work scheduled, the next write starts a new batch.
_DONE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV - 1, 2 do
  redis.call('HDEL', KEYS[2], ARGV[i])
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == lease then
    if ARGV[i + 1] == '' then
      redis.call('ZREM', KEYS[1], ARGV[i])
    else
      redis.call('ZADD', KEYS[1], string.format('%.6f', now + tonumber(ARGV[i + 1])), ARGV[i])
    end
    n = n + 1
  end
end
return n
"""


def delay_arg(seconds: float | None, max_wait: float | None = None) -> str:
    """The ``delay`` argument of ``due()``: '' for no work, else seconds and the max wait."""
    if seconds is None:
        return ""
    return repr(float(seconds)) + (f"/{float(max_wait)!r}" if max_wait else "")


class Claim(NamedTuple):
    """Members claimed, and the lease (their score until ``done``) as Redis holds it; on a
    cluster (``store.due_cluster``) each member's own, in ``leases``, since each due set is
    leased on its primary's clock."""

    members: list[str]
    lease: str
    leases: tuple[str, ...] = ()


@translates_errors
@dataclass
class DueSet:
    redis: Redis
    keys: Keys

    def __post_init__(self) -> None:
        self._mark = self.redis.register_script(_MARK)
        self._seed = self.redis.register_script(_SEED)
        self._claim = self.redis.register_script(_CLAIM)
        self._done = self.redis.register_script(_DONE)

    async def mark(self, kind: str, what: str, delay: float, max_wait: float | None = None) -> None:
        """``<kind>:<what>`` is due in ``delay`` seconds (later than any earlier mark), but no
        later than ``max_wait`` after the first mark of its batch."""
        keys = [what, self.keys.tasks_due, self.keys.tasks_due_since]
        await self._mark(keys=keys, args=[kind, delay_arg(delay, max_wait)])

    async def register(self, tag: str) -> None:
        """Nothing on a single Redis: its one due set is always found (``store.due_cluster``
        registers a namespace's set)."""

    async def seed(self, member: str, delay: float) -> bool:
        """``member`` is due in ``delay`` seconds unless already in the set (True if added)."""
        return bool(await self._seed(keys=[self.keys.tasks_due], args=[member, repr(delay)]))

    async def claim(self, limit: int, lease_seconds: float) -> Claim:
        """Up to ``limit`` members due now, leased for ``lease_seconds``."""
        reply = await self._claim(keys=[self.keys.tasks_due], args=[limit, repr(lease_seconds)])
        if not reply:
            return Claim([], "")
        text = [r.decode() if isinstance(r, bytes) else str(r) for r in reply]
        return Claim(text[1:], text[0])

    async def done(self, claim: Claim, next_seconds: Sequence[float | None]) -> int:
        """Each claimed member still at its lease is removed (None) or due again in that many
        seconds; one marked meanwhile keeps its mark. Returns how many were settled."""
        args: list[str] = [claim.lease]
        for member, after in zip(claim.members, next_seconds, strict=True):
            args += [member, "" if after is None else repr(float(after))]
        keys = [self.keys.tasks_due, self.keys.tasks_due_since]
        return int(await self._done(keys=keys, args=args))

    async def remove(self, member: str) -> None:
        await self.redis.zrem(self.keys.tasks_due, member)
        await self.redis.hdel(self.keys.tasks_due_since, member)

    async def backlog(self) -> tuple[int, float]:
        """How many members are due now (not leased, not yet due later), and how long ago the
        oldest of them fell due (seconds by Redis's clock, which scores the set; 0 when none)."""
        seconds, micros = await self.redis.time()
        now = seconds + micros / 1e6
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcount(self.keys.tasks_due, "-inf", repr(now))
            pipe.zrangebyscore(
                self.keys.tasks_due, "-inf", repr(now), start=0, num=1, withscores=True
            )
            count, oldest = await pipe.execute()
        return int(count), (now - float(oldest[0][1]) if oldest else 0.0)

    async def upcoming(self, limit: int) -> tuple[int, list[tuple[str, float]]]:
        """How many members the set holds, and the ``limit`` soonest due (member, epoch
        second), claimed ones included (their score is the end of their lease)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(self.keys.tasks_due)
            pipe.zrange(self.keys.tasks_due, 0, limit - 1, withscores=True)
            total, soonest = await pipe.execute()
        return int(total), [(m, float(s)) for m, s in soonest]

    async def score(self, member: str) -> float | None:
        """When ``member`` is due (epoch seconds), None if it is not in the set."""
        found = await self.redis.zscore(self.keys.tasks_due, member)
        return None if found is None else float(found)

    async def forget(self, session_keys: Sequence[str]) -> int:
        """Remove the sessions' members (erased sessions): promotion and extraction by name;
        summarisation, whose member holds the model's window, by one ZSCAN of the set's
        summarisation members (the set holds only the sessions written in the last seconds),
        however many sessions are erased. How many members were removed."""
        if not session_keys:
            return 0
        due, wanted = self.keys.tasks_due, set(session_keys)
        named = [f"{k}:{s}" for s in session_keys for k in ("promote", "extract")]
        found = []
        async for member, _ in self.redis.zscan_iter(due, match="summarize:*"):
            if member.split(":", 2)[-1] in wanted:  # summarize:<window>:<session key>
                found.append(member)
        removed = 0
        for start in range(0, len(named + found), 1000):
            chunk = (named + found)[start : start + 1000]
            removed += int(await self.redis.zrem(due, *chunk))
            await self.redis.hdel(self.keys.tasks_due_since, *chunk)
        return removed


@translates_errors
@dataclass
class TaskRuns:
    """The run records pydocket keeps for 15 minutes under ``<docket>:runs:<task key>``
    (they name the session), by their keys."""

    redis: Redis

    async def count(self, keys: Sequence[str]) -> int:
        return int(await self.redis.exists(*keys)) if keys else 0

    async def delete(self, keys: Sequence[str]) -> None:
        if keys:
            await self.redis.delete(*keys)

    async def queued(self, stream: str) -> int:
        """Tasks in pydocket's stream: waiting for a worker or running (a run's entry goes
        when it ends)."""
        return int(await self.redis.xlen(stream))
