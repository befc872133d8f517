"""Source 1: the Redis read models the worker writes, read through lastmile.readmodel.

Read only. Per day of the period: the violation, delivery and complaint rollups, the
end-to-end hours per delivery and the parcels by first-scan day. Per town: the violation
index → documents for the worst villages and couriers, the villages reached (coverage)
and the brands seen at the centre (fusion). The read models keep no per-hop times, so
dwell and stuck parcels are not available (docs/read-models.md).
"""

from __future__ import annotations

from redis.asyncio import Redis

from lastmile.domain.indicators import DAY
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.readmodel.keys import Keys
from lastmile.readmodel.produce import ProduceReader
from lastmile.readmodel.reader import Day, ReadModelReader
from lastmile.review.collected import UNKNOWN, Collected, ViolationRef
from lastmile.review.notes import (
    REDIS_BRANDS_LATER,
    REDIS_COVERAGE_UNDETERMINED,
    REDIS_NO_DWELL,
)
from lastmile.review.period import Period
from lastmile.review.produce import ProduceCollected

REDIS_LIMITS = (REDIS_NO_DWELL, REDIS_COVERAGE_UNDETERMINED)


def _parse_rolls(out: Collected, day: Day) -> None:
    for field, n in day.violations.items():
        town, carrier, vtype, rule = field.split("|")
        out.violations[(town, carrier, vtype, rule)] += n
    for field, n in day.deliveries.items():
        town, carrier, remote = field.split("|")
        out.deliveries[(town, carrier, remote == "true")] += n
    for field, n in day.complaints.items():
        town, carrier, category = field.split("|")
        out.complaints[(town, None if carrier == "unknown" else carrier, category)] += n


async def collect_redis(
    redis: Redis, network: Network, config: RuleConfig, period: Period, prefix: str = "lm"
) -> Collected:
    read = ReadModelReader(redis, Keys(prefix))
    out = Collected("redis", period, notes=[n.both() for n in REDIS_LIMITS])
    seen: set[str] = set()
    for day in await read.days(period.day_list()):
        _parse_rolls(out, day)
        for raw in day.end_to_end:
            town, carrier, hours = raw.split("|")
            out.e2e.setdefault((town, carrier), []).append(float(hours))
        for pid, town_carrier in day.parcels.items():
            if pid not in seen:  # a parcel first seen twice (a late earlier scan) counts once
                seen.add(pid)
                town, _, carrier = town_carrier.partition("|")
                out.parcels[(town, carrier or None)] += 1

    towns = [*network.towns, UNKNOWN]
    start, end = period.start_ts, period.end_ts
    ids = await read.violation_ids_by_town(towns, start, end)
    out.refs.extend(ViolationRef.from_doc(d) for d in await read.violations(ids) if d is not None)

    window_start = end - config.coverage_days * DAY
    later: list[str] = []
    codes = list(network.towns)
    for t, (reached, brands) in zip(codes, await read.coverage(codes), strict=True):
        out.reached[t] = {v for v, ts in reached if window_start < ts <= end}
        out.undetermined[t] = {v for v, ts in reached if ts > end}
        out.brands[t] = {c for c, ts in brands if window_start < ts <= end}
        if any(ts > end for _, ts in brands):
            later.append(t)
    produce = ProduceReader(redis, Keys(prefix))
    point_last, clock = await produce.activity()
    out.produce = ProduceCollected(
        await produce.outbound(period.day_list()),
        await produce.quality(period.day_list()),
        point_last,
        clock,
    )
    if later:
        out.notes.append(REDIS_BRANDS_LATER.both(towns=", ".join(later)))
    return out
