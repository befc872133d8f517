"""Source 1: the Redis read models the worker writes (lastmile.worker.projection).

Read only. Per day of the period: ``{p}:roll:{day}`` (violations, deliveries,
complaints), ``{p}:e2e:{day}`` (end-to-end hours per delivery), ``{p}:parcels:{day}``
(parcels by first-scan day). Per town: ``{p}:vi:town:{town}`` → ``{p}:v`` for the
worst villages and couriers, ``{p}:reached:{town}`` (coverage) and ``{p}:brands:{town}``
(brand fusion). The read models keep no per-hop times and no per-parcel carrier, so
dwell, stuck parcels, parcels per carrier and complaints per carrier are not available.
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from lastmile.domain.indicators import DAY
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.review.collected import UNKNOWN, Collected, ViolationRef
from lastmile.review.period import Period

REDIS_LIMITS = (
    "dwell at each tier and parcels stuck > 48 h: not in the Redis read models (replay the log)",
    "coverage and brand fusion: Redis keeps only the newest time per village / carrier, so a "
    "village whose newest delivery is after the window is counted as undetermined",
)

_SCAN_BATCH = 2000


def _s(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


def _parse_roll(out: Collected, roll: dict[Any, Any]) -> None:
    for raw_field, raw_n in roll.items():
        parts = _s(raw_field).split("|")
        n = int(raw_n)
        kind = parts[0]
        if kind == "v" and len(parts) == 5:
            out.violations[(parts[1], parts[2], parts[3], parts[4])] += n
        elif kind == "d" and len(parts) == 4:
            out.deliveries[(parts[1], parts[2], parts[3] == "true")] += n
        elif kind == "c" and len(parts) == 4:
            carrier = None if parts[2] == "unknown" else parts[2]
            out.complaints[(parts[1], carrier, parts[3])] += n


async def collect_redis(
    redis: Redis, network: Network, config: RuleConfig, period: Period, prefix: str = "lm"
) -> Collected:
    p = prefix
    out = Collected("redis", period, notes=list(REDIS_LIMITS))
    days = period.day_list()
    pipe = redis.pipeline(transaction=False)
    for day in days:
        pipe.hgetall(f"{p}:roll:{day}")
        pipe.hgetall(f"{p}:e2e:{day}")
        pipe.hgetall(f"{p}:parcels:{day}")
    replies = await pipe.execute()
    seen: set[str] = set()
    for i in range(len(days)):
        roll, e2e, parcels = replies[3 * i : 3 * i + 3]
        _parse_roll(out, roll)
        for raw in e2e.values():
            town, carrier, hours = _s(raw).split("|")
            out.e2e.setdefault((town, carrier), []).append(float(hours))
        for raw_pid, raw_town in parcels.items():
            pid = _s(raw_pid)
            if pid not in seen:  # a parcel first seen twice (a late earlier scan) counts once
                seen.add(pid)
                town, _, carrier = _s(raw_town).partition("|")
                out.parcels[(town, carrier or None)] += 1

    towns = [*network.towns, UNKNOWN]
    start, end = period.start_ts, period.end_ts
    pipe = redis.pipeline(transaction=False)
    for t in towns:
        pipe.zrangebyscore(f"{p}:vi:town:{t}", start, f"({end}")
    id_lists = await pipe.execute()
    ids = [_s(i) for lst in id_lists for i in lst]
    for k in range(0, len(ids), _SCAN_BATCH):
        docs = await redis.hmget(f"{p}:v", ids[k : k + _SCAN_BATCH])  # type: ignore[misc]
        out.refs.extend(ViolationRef.from_doc(orjson.loads(d)) for d in docs if d is not None)

    window_start = end - config.coverage_days * DAY
    pipe = redis.pipeline(transaction=False)
    for t in network.towns:
        pipe.zrange(f"{p}:reached:{t}", 0, -1, withscores=True)
        pipe.zrange(f"{p}:brands:{t}", 0, -1, withscores=True)
    replies = await pipe.execute()
    later: list[str] = []
    for i, t in enumerate(network.towns):
        reached, brands = replies[2 * i], replies[2 * i + 1]
        out.reached[t] = {_s(v) for v, ts in reached if window_start < ts <= end}
        out.undetermined[t] = {_s(v) for v, ts in reached if ts > end}
        out.brands[t] = {_s(c) for c, ts in brands if window_start < ts <= end}
        if any(ts > end for _, ts in brands):
            later.append(t)
    if later:
        out.notes.append(
            "brand fusion of towns " + ", ".join(later) + ": a carrier last seen after the period "
            "may also have scanned in it (Redis keeps only the newest scan time)"
        )
    return out
