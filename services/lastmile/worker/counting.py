"""Counting one processed batch into the metrics: aggregated per label set, then inc'ed."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lastmile.worker.gauges import track_open_hop
from lastmile.worker.step import BatchOutcome

if TYPE_CHECKING:
    from lastmile.worker.app import Worker


def count_batch(w: Worker, outcome: BatchOutcome, events: Sequence[Any]) -> None:
    m = w.metrics
    net = w.network
    now = time.time()
    for topic, n in Counter(ev.message.topic for ev in events).items():
        m.events_processed.labels(topic).inc(n)
    scan_counts: Counter[tuple[str, str, str]] = Counter()
    newest = w.watermark
    for u in outcome.updates:
        a = u.analysis
        village = a.dest.village
        town = village.town if village else "unknown"
        for s in u.new_scans:
            scan_counts[(s.type, s.carrier, net.tier_of(s.node_id) or "unknown")] += 1
            newest = max(newest, s.ts)
            m.processing_lag.observe(max(0.0, now - s.ts))
        for c in u.new_complaints:
            m.complaints.labels(c.category, town).inc()
        for h in u.finished_hops:
            if h.dwell_s is not None:
                m.dwell_hours.labels(h.tier).observe(h.dwell_s / 3600)
        d = u.first_delivery
        if d is not None and village is not None:
            m.deliveries.labels(d.carrier, town, str(village.remote).lower()).inc()
            if u.end_to_end_h is not None:
                m.end_to_end_hours.labels(d.carrier, town).observe(u.end_to_end_h)
                if u.end_to_end_h <= w.config.on_time_hours:
                    m.delivered_within_72h.labels(d.carrier, town).inc()
        track_open_hop(w, u)
    for (t, carrier, tier), n in scan_counts.items():
        m.scan_events.labels(t, carrier, tier).inc(n)
    if newest > w.watermark:
        w.watermark = newest
        m.last_event_timestamp.set(newest)
