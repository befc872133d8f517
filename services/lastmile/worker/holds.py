"""Held findings: rules whose verdict a late event can still change wait a moment.

Two kinds of finding are not monotone in what arrives later: ``movement_after_signoff``
(a ``returned`` scan that reaches us late cancels it) and the complaint rules (whose
responsible carrier is that of the latest sign-off, which may still be on its way). The
worker publishes those only after ``hold_s`` seconds of processing time, re-judging the
parcel then. Violations are never retracted, so the hold is what keeps a late return from
turning into a false accusation.

The holds live in a Redis sorted set (member ``partition|parcel``, score = release time),
shared by the workers of one app: a crash or a rebalance loses none, and the worker that
owns the parcel's partition releases it.
"""

from __future__ import annotations

from redis.asyncio import Redis

from lastmile.domain.findings import Finding

HELD_RULES = frozenset(
    {
        ("false_signoff", "movement_after_signoff"),
        ("false_signoff", "complaint"),
        ("wrong_address", "complaint"),
        ("extra_fee", "complaint"),
    }
)


def is_held(finding: Finding) -> bool:
    return (finding.type, finding.rule) in HELD_RULES


class Holds:
    def __init__(self, redis: Redis, key: str, hold_s: float) -> None:
        self.redis = redis
        self.key = key
        self.hold_s = hold_s

    async def hold(self, items: set[tuple[int, str]], now: float) -> None:
        """Hold parcels (partition, parcel id); an existing hold keeps its release time."""
        if items:
            release = now + self.hold_s
            await self.redis.zadd(self.key, {f"{p}|{pid}": release for p, pid in items}, nx=True)

    async def due(self, now: float, limit: int = 5000) -> list[tuple[int, str]]:
        raw = await self.redis.zrangebyscore(self.key, "-inf", now, start=0, num=limit)
        out = []
        for m in raw:
            part, _, pid = (m.decode() if isinstance(m, bytes) else m).partition("|")
            out.append((int(part), pid))
        return out

    async def release(self, items: list[tuple[int, str]]) -> None:
        if items:
            await self.redis.zrem(self.key, *(f"{p}|{pid}" for p, pid in items))
