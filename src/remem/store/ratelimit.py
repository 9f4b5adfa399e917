"""The rate limit's state in Redis: one key per caller, shared by every process that serves.

GCRA (the generic cell rate algorithm) in one Lua script: the key holds the caller's
"theoretical arrival time"; a request is allowed when it is not more than the burst ahead of
now, and moves it one interval on. ``per_minute`` requests are allowed at once (the burst), then
one every ``60 / per_minute`` seconds: no window edge lets twice the limit through, as a fixed
window (INCR per minute) would. The clock is Redis's (TIME), so processes on machines whose
clocks differ share one limit.
"""

from __future__ import annotations

import math

from redis.asyncio import Redis

from remem.store.connection import translates_errors
from remem.store.keys import Keys

# KEYS[1]: the caller's key; ARGV[1]: the interval between requests (µs); ARGV[2]: the burst
# (µs the arrival time may run ahead of now). Returns 0 (allowed) or µs to wait.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > burst then return tat - now - burst end
local new = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.ceil((new - now) / 1000) + 1)
return 0
"""


@translates_errors
class RateLimiter:
    def __init__(self, redis: Redis, keys: Keys, per_minute: int) -> None:
        self.keys = keys
        self.interval = 60_000_000 // per_minute  # µs
        self.burst = 60_000_000 - self.interval  # per_minute at once, then one an interval
        self._gcra = redis.register_script(_GCRA)

    async def wait(self, subject: str) -> float:
        """Take one request of ``subject``'s allowance: 0 if allowed, else seconds to wait."""
        micros = await self._gcra(
            keys=[self.keys.rate_limit(subject)], args=[self.interval, self.burst]
        )
        return int(micros) / 1_000_000


def retry_after(seconds: float) -> int:
    """Whole seconds for Retry-After (at least 1)."""
    return max(1, math.ceil(seconds))
