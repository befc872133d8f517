"""Redis read models of contract §7: outbound produce facts, data quality, silent points.

Written in the batch's one pipeline (``queue_produce``, called by ``ReadModelWriter``);
read back by the worker's gauges and the reviews (``ProduceReader``). Keys come from
``keys.py`` like every other family (docs/read-models.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from lastmile.domain.data_quality import (
    HOUR_S,
    CarrierQuality,
    Count,
    DataClock,
    carriers_from_counts,
)
from lastmile.domain.outbound import OutboundParcel
from lastmile.pipeline.produce import ProduceWrites
from lastmile.readmodel.codec import china_day, rollup_field, split_field
from lastmile.readmodel.keys import Keys

_FIRST, _NEWEST = "first", "newest"


def queue_produce(pipe: Any, k: Keys, w: ProduceWrites) -> None:
    """Add one batch's §7 writes to a pipeline (idempotent but for the per-carrier counts)."""
    by_day: dict[str, dict[str, bytes]] = {}
    for pid, facts in w.outbound.items():
        day = china_day(facts.collected_ts)
        by_day.setdefault(day, {})[pid] = orjson.dumps(list(facts))
    for day, mapping in by_day.items():
        pipe.hset(k.outbound(day), mapping=mapping)
    for (hour, carrier, name), n in w.counts.items():
        day = china_day(hour * HOUR_S)
        pipe.hincrby(k.data_quality(day), rollup_field(carrier, f"{hour}|{name}"), n)
    if w.point_last:
        pipe.zadd(k.points_seen, w.point_last, gt=True)
    if w.newest_ts > float("-inf"):
        pipe.zadd(k.data_clock, {_FIRST: w.first_ts}, lt=True)
        pipe.zadd(k.data_clock, {_NEWEST: w.newest_ts}, gt=True)


class ProduceReader:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def outbound(self, days: Sequence[str]) -> list[OutboundParcel]:
        """The outbound facts of the parcels collected on these China days."""
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            pipe.hvals(self.keys.outbound(day))
        out: list[OutboundParcel] = []
        for values in await pipe.execute():
            out.extend(OutboundParcel(*orjson.loads(v)) for v in values)
        return out

    async def quality(self, days: Sequence[str]) -> dict[str, CarrierQuality]:
        """Per-carrier data-quality counts summed over these China days."""
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self.keys.data_quality(day))
        counts: Counter[Count] = Counter()
        for raw in await pipe.execute():
            for key, n in raw.items():
                carrier, hour, name = split_field(key)
                counts[(int(hour), carrier, name)] += int(n)
        return carriers_from_counts(counts.items())

    async def activity(self) -> tuple[dict[str, float], DataClock]:
        """Newest scan per village point, and the data clock."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrange(self.keys.points_seen, 0, -1, withscores=True)
        pipe.zrange(self.keys.data_clock, 0, -1, withscores=True)
        points, clock = await pipe.execute()
        marks = {_text(m): float(ts) for m, ts in clock}
        return (
            {_text(p): float(ts) for p, ts in points},
            DataClock(marks.get(_FIRST, float("inf")), marks.get(_NEWEST, float("-inf"))),
        )


def _text(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x
