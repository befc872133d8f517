"""The streaming side of contract §7: outbound produce and data quality, per batch.

``step_produce`` runs after ``step_parcels`` and before the runner applies the batch (the
stored paths are still the ones before the batch, ``fx.read_model.paths`` the ones after).
It adds to the batch's ``Effects``:

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
from lastmile.domain.data_quality import is_skewed, scan_counts
from lastmile.domain.events import ScanEvent
from lastmile.domain.network import Network
from lastmile.domain.outbound import OutboundParcel, outbound_parcel
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.effects import Effects
from lastmile.pipeline.parcels import Located, Lookup
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
    stored: Lookup,
    network: Network,
    config: RuleConfig,
    processing_ts: float,
) -> ProduceWrites:
    """Outbound facts, data-quality counts, point activity and the data clock of a batch."""
    w = ProduceWrites(processing_ts=processing_ts)
    by_parcel: dict[str, list[Located]] = {}
    for item in events:
        if isinstance(item.event, ScanEvent):
            by_parcel.setdefault(item.event.parcel_id, []).append(item)
    tiers = network.tiers
    for parcel_id, items in by_parcel.items():
        before = stored(parcel_id, items[-1].partition)
        known = {s.event_id for s in before.scans} if before is not None else set()
        for item in items:
            e = item.event
            assert isinstance(e, ScanEvent)
            if e.event_id in known:
                w.counts[(e.carrier, "repeated")] += 1
                continue
            known.add(e.event_id)
            for name in scan_counts(e, processing_ts, config):
                w.counts[(e.carrier, name)] += 1
            if is_skewed(e, processing_ts, config):
                continue
            w.first_ts = min(w.first_ts, e.ts)
            w.newest_ts = max(w.newest_ts, e.ts)
            if tiers.get(e.node_id) == "village" and e.ts > w.point_last.get(e.node_id, 0.0):  # type: ignore[arg-type]
                w.point_last[e.node_id] = e.ts  # type: ignore[index]
        after = fx.read_model.paths.get(parcel_id)
        if after is not None:
            facts = outbound_parcel(after, network)
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
