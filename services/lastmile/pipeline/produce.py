"""The streaming side of contract §7: outbound produce and data quality, per batch.

``step_produce`` runs after ``step_parcels`` (whose new paths and new-scan counts it reads
from the batch's ``Effects``) and before the runner applies the batch. It adds:

- ``fx.read_model.produce``: each touched outbound parcel's facts (the record the figures
  are computed from), per-carrier data-quality counts, the newest scan per village point
  and the data clock, written to Redis in the batch's one pipeline (so before the paths,
  ADR 0001);
- ``fx.metrics.produce``: the same per-carrier counts, for the Prometheus counters.

Processing time (clock skew) is the worker's wall clock when it takes the batch, handed
in by the caller: the pipeline reads no clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lastmile.contract.decode import carrier_of_invalid
from lastmile.domain.data_quality import scan_counts
from lastmile.domain.events import ScanEvent
from lastmile.domain.network import Network
from lastmile.domain.outbound import OutboundParcel, outbound_parcel
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.effects import Effects
from lastmile.pipeline.parcels import Located
from lastmile.pipeline.records import DeadLetter


@dataclass
class ProduceWrites:
    """What one batch teaches the §7 read models (every write idempotent except the
    per-carrier counts, which a replayed batch would count again: see read-models.md)."""

    outbound: dict[str, OutboundParcel] = field(default_factory=dict)  # parcel → facts
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # carrier, count name
    invalid: Counter[tuple[str, str]] = field(default_factory=Counter)  # carrier, reason
    point_last: dict[str, float] = field(default_factory=dict)  # village point → newest scan
    first_ts: float = float("inf")  # data clock: scans not ahead of processing time
    newest_ts: float = float("-inf")
    processing_ts: float = 0.0  # the day the counts are kept under

    def __bool__(self) -> bool:
        return bool(self.outbound or self.counts or self.invalid or self.point_last)


def step_produce(
    events: Sequence[Located],
    fx: Effects,
    network: Network,
    config: RuleConfig,
    processing_ts: float,
) -> ProduceWrites:
    """Outbound facts, data-quality counts, point activity and the data clock of a batch.

    Which scans are new is what ``step_parcels`` found: its per-(type, carrier, tier) count
    of new scans, and its paths (a scan object in a parcel's new path is a new scan; a
    repeat is not folded in). So this step looks nothing up and folds nothing again.
    """
    w = ProduceWrites(processing_ts=processing_ts)
    limit = processing_ts + config.clock_skew_s
    tiers = network.tiers
    sent: Counter[str] = Counter()  # scan messages per carrier, repeats included
    odd: list[ScanEvent] = []  # ahead of processing time, or a sign-off without location
    first, newest = w.first_ts, w.newest_ts
    point_last = w.point_last
    for item in events:
        e = item.event
        if type(e) is not ScanEvent:
            continue
        sent[e.carrier] += 1
        ts = e.ts
        if ts > limit:
            odd.append(e)
            continue  # a clock running ahead: no data clock, no point activity
        if e.type == "delivered" and e.lat is None:
            odd.append(e)
        if ts < first:
            first = ts
        if ts > newest:
            newest = ts
        node = e.node_id
        if node is not None and tiers.get(node) == "village" and ts > point_last.get(node, 0.0):
            point_last[node] = ts
    w.first_ts, w.newest_ts = first, newest
    counts = w.counts
    for (stype, carrier, _), n in fx.metrics.scans.items():  # new scans only
        counts[(carrier, "scans")] += n
        if stype == "delivered":
            counts[(carrier, "delivered")] += n
    for carrier, n in sent.items():
        repeated = n - counts[(carrier, "scans")]
        if repeated:
            counts[(carrier, "repeated")] += repeated
    paths = fx.read_model.paths
    for e in odd:
        path = paths.get(e.parcel_id)
        if path is None or not any(s is e for s in path.scans):
            continue  # a repeat: counted once, when it was new
        for name in scan_counts(e, processing_ts, config):
            if name in ("delivered_without_location", "clock_skewed"):
                counts[(e.carrier, name)] += 1
    for parcel_id, path in paths.items():
        facts = outbound_parcel(path, network)
        if facts is not None:
            w.outbound[parcel_id] = facts
    _invalid(w, fx.dead_letters)
    fx.read_model.produce = w
    fx.metrics.produce = w
    return w


def _invalid(w: ProduceWrites, letters: Iterable[DeadLetter]) -> None:
    for d in letters:
        if d.kind == "scans":
            w.invalid[(carrier_of_invalid(d.value), d.reason)] += 1
