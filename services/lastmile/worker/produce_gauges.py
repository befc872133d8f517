"""Contract §7 metrics of the worker: per-carrier counters per batch, per-town gauges
recomputed from the Redis read model by the same core functions ``lastmile detect`` uses.

"Now" of the gauges is the data clock (the newest scan not ahead of processing time),
shared by every worker through Redis, so a replay of old traffic reports what it
reported live and every worker reports the same county figures.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta

from lastmile.domain.data_quality import INVALID, silent_points
from lastmile.domain.network import Network
from lastmile.domain.outbound import outbound_figures
from lastmile.domain.rules import RuleConfig
from lastmile.metrics import HOUR_S, ProduceMetrics
from lastmile.pipeline.produce import ProduceWrites
from lastmile.readmodel.codec import CHINA
from lastmile.readmodel.produce import ProduceReader
from lastmile.worker.health import REDIS_ERRORS, RedisHealth


def apply_produce(m: ProduceMetrics, w: ProduceWrites) -> None:
    """One batch's per-carrier data-quality counts."""
    for (carrier, name), n in w.totals().items():
        if name == "delivered_without_location":
            m.signoffs_without_location.labels(carrier).inc(n)
        elif name == "clock_skewed":
            m.scans_clock_skewed.labels(carrier).inc(n)
        elif name == "repeated":
            m.repeated_events.labels(carrier).inc(n)
        elif name.startswith(INVALID):
            m.invalid_by_carrier.labels(carrier, name.removeprefix(INVALID)).inc(n)


def days_back(now: float, days: float) -> list[str]:
    """China days from ``now - days`` to ``now``, oldest first."""
    end = datetime.fromtimestamp(now, CHINA).date()
    start = datetime.fromtimestamp(now - days * 86400, CHINA).date()
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


async def refresh_produce(
    m: ProduceMetrics,
    reader: ProduceReader,
    network: Network,
    config: RuleConfig,
    health: RedisHealth,
) -> None:
    """Outbound figures and silent points per town (retention_days of collections)."""
    try:
        points, clock = await reader.activity()
        if not clock.known:
            return
        now = clock.newest
        parcels = await reader.outbound(days_back(now, config.retention_days))
    except REDIS_ERRORS as exc:  # the gauges keep their last values; health says why
        health.failed("refresh_produce", exc)
        return
    health.ok()
    fig = outbound_figures(parcels, config, now)
    silent = silent_points(points, network, clock.first, now, config)
    for town in network.towns:
        g = fig["by_town"].get(town)
        m.outbound_parcels.labels(town).set(g["collected"] if g else 0)
        m.outbound_perishable.labels(town).set(g["perishable"] if g else 0)
        m.perishable_stalled.labels(town).set(g["perishable_stalled_now"] if g else 0)
        m.perishable_stalled_ever.labels(town).set(g["perishable_stalled_ever"] if g else 0)
        share = g["perishable_out_share"] if g else None
        median = g["first_mile_median_h"] if g else None
        p90 = g["first_mile_p90_h"] if g else None
        for gauge, value in (
            (m.perishable_out_ratio, share),
            (m.first_mile_median, None if median is None else median * HOUR_S),
            (m.first_mile_p90, None if p90 is None else p90 * HOUR_S),
        ):
            if value is not None:
                gauge.labels(town).set(value)
            else:  # nothing measured (yet): no series rather than a made-up 0
                with suppress(KeyError):
                    gauge.remove(town)
        m.silent_points.labels(town).set(sum(1 for p in silent if p["town"] == town))
