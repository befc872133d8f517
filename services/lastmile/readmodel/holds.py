"""Held findings in Redis: a sorted set of partition|parcel scored by release time.

Shared by the workers of one app, so a crash or a rebalance loses no hold; the worker that
owns the parcel's partition releases it (pipeline.runner: publish, acknowledge, release).
A late-sensitive event pushes its parcel's hold back (``ZADD GT``), and a release removes a
hold only if its time is still the one it judged: otherwise a hold renewed while the parcel
was being judged on its older path would be lost, and the finding with it.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from lastmile.pipeline.records import DueHold, HoldKey

# KEYS: the holds zset; ARGV: member, release time, member, release time, ...
_RELEASE_IF_UNCHANGED = """
local n = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    n = n + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return n
"""


def _member(k: HoldKey) -> str:
    return f"{k.partition}|{k.parcel_id}"


class RedisHolds:
    def __init__(self, redis: Redis, key: str, hold_s: float) -> None:
        self.redis = redis
        self.key = key
        self.hold_s = hold_s
        self._release = redis.register_script(_RELEASE_IF_UNCHANGED)

    async def hold(self, keys: Iterable[HoldKey], now: float) -> None:
        """Hold parcels until now + hold_s; an existing hold moves later, never earlier."""
        release = now + self.hold_s
        mapping = {_member(k): release for k in keys}
        if mapping:
            await self.redis.zadd(self.key, mapping, gt=True)

    async def due(self, now: float, limit: int = 5000) -> list[DueHold]:
        raw = await self.redis.zrangebyscore(
            self.key, "-inf", now, start=0, num=limit, withscores=True
        )
        out = []
        for m, score in raw:
            part, _, pid = (m.decode() if isinstance(m, bytes) else m).partition("|")
            out.append(DueHold(HoldKey(int(part), pid), float(score)))
        return out

    async def release(self, due: Iterable[DueHold]) -> None:
        """Remove each hold whose release time is still the one ``due`` read (atomic)."""
        args: list[str | float] = []
        for d in due:
            args += [_member(d.key), repr(d.release_at)]
        if args:
            await self._release(keys=[self.key], args=args)
