"""Per-key token bucket kept in Redis, so every API replica shares one budget per key.

Key: {p}:api:rl:{key_id}  hash {t: tokens, ts: last refill (Redis server time)}; expires when idle.
"""

from __future__ import annotations

import math

from redis.asyncio import Redis

from lastmile.readmodel.keys import Keys

_BUCKET = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str, rate_per_s: float, burst: int) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.p = prefix
        self.rate = rate_per_s
        self.burst = burst
        self._script = redis.register_script(_BUCKET)

    async def take(self, key_id: str) -> int:
        """0 if the request may go on, else the seconds to wait (Retry-After, rounded up)."""
        allowed, wait = await self._script(
            keys=[Keys(self.p).rate_limit(key_id)], args=[self.rate, self.burst]
        )
        if int(allowed) == 1:
            return 0
        return max(1, math.ceil(float(wait)))
