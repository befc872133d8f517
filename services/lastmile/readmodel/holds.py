"""Held findings in Redis: a sorted set of partition|parcel scored by release time.

Shared by the workers of one app, so a crash or a rebalance loses no hold; the worker that
owns the parcel's partition releases it (pipeline.runner: publish, acknowledge, release).
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from lastmile.pipeline.records import HoldKey


def _member(k: HoldKey) -> str:
    return f"{k.partition}|{k.parcel_id}"


class RedisHolds:
    def __init__(self, redis: Redis, key: str, hold_s: float) -> None:
        self.redis = redis
        self.key = key
        self.hold_s = hold_s

    async def hold(self, keys: Iterable[HoldKey], now: float) -> None:
        """Hold parcels; an existing hold keeps its release time."""
        release = now + self.hold_s
        mapping = {_member(k): release for k in keys}
        if mapping:
            await self.redis.zadd(self.key, mapping, nx=True)

    async def due(self, now: float, limit: int = 5000) -> list[HoldKey]:
        raw = await self.redis.zrangebyscore(self.key, "-inf", now, start=0, num=limit)
        out = []
        for m in raw:
            part, _, pid = (m.decode() if isinstance(m, bytes) else m).partition("|")
            out.append(HoldKey(int(part), pid))
        return out

    async def release(self, keys: Iterable[HoldKey]) -> None:
        members = [_member(k) for k in keys]
        if members:
            await self.redis.zrem(self.key, *members)
