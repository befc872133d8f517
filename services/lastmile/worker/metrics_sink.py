"""Applying a batch's metric deltas to Prometheus: one ``inc`` per label set."""

from __future__ import annotations

from collections.abc import Callable

from lastmile.metrics import Metrics
from lastmile.pipeline.effects import MetricDeltas
from lastmile.worker.produce_gauges import apply_produce


class PrometheusSink:
    def __init__(self, metrics: Metrics, clock: Callable[[], float]) -> None:
        self.m = metrics
        self.clock = clock

    def step(self, step: str, seconds: float) -> None:
        self.m.batch_seconds.labels(step).observe(seconds)

    def apply(self, d: MetricDeltas) -> None:
        m = self.m
        for topic, n in d.events.items():
            m.events_processed.labels(topic).inc(n)
        for (topic, reason), n in d.invalid.items():
            m.invalid_messages.labels(topic, reason).inc(n)
        for (vtype, carrier, tier), n in d.scans.items():
            m.scan_events.labels(vtype, carrier, tier).inc(n)
        for (category, town), n in d.complaints.items():
            m.complaints.labels(category, town).inc(n)
        for (carrier, town, remote), n in d.deliveries.items():
            m.deliveries.labels(carrier, town, remote).inc(n)
        for (carrier, town), n in d.within_target.items():
            m.delivered_within_72h.labels(carrier, town).inc(n)
        for (carrier, town), hours in d.end_to_end_h:
            m.end_to_end_hours.labels(carrier, town).observe(hours)
        for tier, hours in d.dwell_h:
            m.dwell_hours.labels(tier).observe(hours)
        if d.produce is not None:
            apply_produce(m.produce, d.produce)
        if d.event_times:
            now = self.clock()
            observe = m.processing_lag.observe
            for ts in d.event_times:
                observe(max(0.0, now - ts))
