"""Gauges refreshed on a timer or at scrape time: stuck parcels, coverage, fusion, lag."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from lastmile.worker.health import REDIS_ERRORS

if TYPE_CHECKING:
    from lastmile.worker.app import Worker
    from lastmile.worker.step import ParcelUpdate

log = logging.getLogger(__name__)


def track_open_hop(w: Worker, u: ParcelUpdate) -> None:
    """Remember where each unfinished inbound parcel waits (for the stuck-parcel gauge).

    Kept in memory per worker: after a restart it is rebuilt as parcels move again.
    """
    a = u.analysis
    pid = a.path.parcel_id
    finished = any(s.type in ("delivered", "returned") for s in a.path.scans)
    if finished or not a.inbound or not a.path.scans:
        w.open_hops.pop(pid, None)
        return
    last = next((s for s in reversed(a.path.scans) if s.node_id), None)
    if last is None:
        return
    first_at_node = last.ts
    for s in reversed(a.path.scans):
        if s.node_id == last.node_id:
            first_at_node = s.ts
        elif s.node_id is not None:
            break
    town = a.dest.village.town if a.dest.village else "unknown"
    w.open_hops[pid] = (w.network.tier_of(last.node_id) or "unknown", town, first_at_node)


def refresh_stuck(w: Worker) -> None:
    limit = w.watermark - w.config.stuck_hours * 3600
    stuck: Counter[tuple[str, str]] = Counter()
    for tier, town, since in w.open_hops.values():
        if since < limit:
            stuck[(tier, town)] += 1
    w.metrics.stuck_parcels.clear()
    for (tier, town), n in stuck.items():
        w.metrics.stuck_parcels.labels(tier, town).set(n)


async def refresh_coverage(w: Worker) -> None:
    """Coverage (通达率) and brand fusion per town, from the shared Redis read model.

    "Now" is the newest event time seen (so a replay of old traffic reports what it
    reported live), or the wall clock before any event.
    """
    now = w.watermark or time.time()
    since = now - w.config.coverage_days * 86400
    p = w.settings.redis_prefix
    codes = list(w.network.towns)
    try:
        pipe = w.redis.pipeline(transaction=False)
        for code in codes:
            pipe.zcount(f"{p}:reached:{code}", since, now)
            pipe.zcount(f"{p}:brands:{code}", since, now)
        counts = await pipe.execute()
    except REDIS_ERRORS as exc:  # the gauges keep their last values; health says why
        w.health.failed("refresh_coverage", exc)
        return
    w.health.ok()
    m = w.metrics
    for i, code in enumerate(codes):
        reached, brands = counts[2 * i], counts[2 * i + 1]
        total = len(w.network.villages_of(code))
        m.villages.labels(code).set(total)
        m.villages_reached.labels(code).set(reached)
        m.village_coverage.labels(code).set(reached / total if total else 0)
        m.town_brands.labels(code).set(brands)
        m.town_info.labels(code, w.network.towns[code].name).set(1)


def refresh_consumer_lag(w: Worker, topics: list[str]) -> None:
    """Messages between each owned input partition's end and its committed offset."""
    consumer: Any = w.app.consumer
    lag: Counter[str] = Counter()
    try:
        for tp in w.app.assignor.assigned_actives():
            if tp.topic not in topics:
                continue
            high = consumer.highwater(tp)
            committed = consumer._committed_offset.get(tp)
            if high is not None:
                lag[tp.topic] += max(0, high - (committed or 0))
    except Exception:
        log.debug("consumer lag unavailable", exc_info=True)
        return
    for topic in topics:
        w.metrics.consumer_lag.labels(topic).set(lag.get(topic, 0))
