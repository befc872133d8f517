"""What the API, the reviews and the worker's gauges read from the Redis read models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from lastmile.domain.path import ParcelPath
from lastmile.readmodel.codec import decode_path
from lastmile.readmodel.keys import Keys

_BATCH = 2000


def _s(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


@dataclass
class Day:
    """One China day of rollups: field → count, and the per-parcel hashes."""

    violations: dict[str, int]  # town|carrier|type|rule
    deliveries: dict[str, int]  # town|carrier|remote
    complaints: dict[str, int]  # town|contract carrier|category
    end_to_end: list[str]  # town|carrier|hours, one per measured delivery
    parcels: dict[str, str]  # parcel → town|carrier (first scan that day)


def _counts(raw: dict[Any, Any]) -> dict[str, int]:
    return {_s(k): int(v) for k, v in raw.items()}


class ReadModelReader:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    # -- gauges ----------------------------------------------------------------------
    async def coverage_counts(
        self, towns: Sequence[str], since: float, until: float
    ) -> list[tuple[int, int]]:
        """Per town: villages reached and brands seen at its centre in (since, until]."""
        pipe = self.redis.pipeline(transaction=False)
        for t in towns:
            pipe.zcount(self.keys.reached(t), since, until)
            pipe.zcount(self.keys.brands(t), since, until)
        counts = await pipe.execute()
        return [(counts[2 * i], counts[2 * i + 1]) for i in range(len(towns))]

    # -- reviews ---------------------------------------------------------------------
    async def days(self, days: Sequence[str]) -> list[Day]:
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(k.violation_rollup(day))
            pipe.hgetall(k.delivery_rollup(day))
            pipe.hgetall(k.complaint_rollup(day))
            pipe.hvals(k.end_to_end(day))
            pipe.hgetall(k.parcels_seen(day))
        r = await pipe.execute()
        return [
            Day(
                _counts(r[5 * i]),
                _counts(r[5 * i + 1]),
                _counts(r[5 * i + 2]),
                [_s(x) for x in r[5 * i + 3]],
                {_s(p): _s(v) for p, v in r[5 * i + 4].items()},
            )
            for i in range(len(days))
        ]

    async def violation_ids_by_town(
        self, towns: Sequence[str], start: float, end: float
    ) -> list[str]:
        """Ids of violations that occurred in [start, end), town by town."""
        pipe = self.redis.pipeline(transaction=False)
        for t in towns:
            pipe.zrangebyscore(self.keys.violations_by_town(t), start, f"({end}")
        return [_s(i) for lst in await pipe.execute() for i in lst]

    async def violations(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """violation.v1 documents by id (None where unknown), in the order asked."""
        out: list[dict[str, Any] | None] = []
        for k in range(0, len(ids), _BATCH):
            docs = await self.redis.hmget(self.keys.violation_docs, list(ids[k : k + _BATCH]))  # type: ignore[misc]
            out.extend(None if d is None else orjson.loads(d) for d in docs)
        return out

    async def coverage(
        self, towns: Sequence[str]
    ) -> list[tuple[list[tuple[str, float]], list[tuple[str, float]]]]:
        """Per town: (village, newest delivery time) and (carrier, newest centre scan)."""
        pipe = self.redis.pipeline(transaction=False)
        for t in towns:
            pipe.zrange(self.keys.reached(t), 0, -1, withscores=True)
            pipe.zrange(self.keys.brands(t), 0, -1, withscores=True)
        r = await pipe.execute()
        return [
            (
                [(_s(v), ts) for v, ts in r[2 * i]],
                [(_s(c), ts) for c, ts in r[2 * i + 1]],
            )
            for i in range(len(towns))
        ]

    # -- the API -----------------------------------------------------------------------
    async def parcel_path(self, parcel_id: str) -> ParcelPath | None:
        raw = await self.redis.get(self.keys.parcel(parcel_id))
        if raw is None:
            raw = await self.redis.get(self.keys.parcel_before_shards(parcel_id))
        return None if raw is None else decode_path(raw)

    async def violation_ids_of_parcel(self, parcel_id: str) -> set[str]:
        return {_s(x) for x in await self.redis.smembers(self.keys.violations_of_parcel(parcel_id))}  # type: ignore[misc]
