"""The streaming side of contract §7: outbound produce and data quality, per batch.

``step_produce`` runs after ``step_parcels`` (whose new paths it reads from the batch's
``Effects``) and before the runner applies the batch. It adds:

- ``fx.read_model.produce``: each touched outbound parcel's facts (the record the figures
  are computed from), per-carrier data-quality counts, the newest scan per village point
  and the data clock, written to Redis in the batch's one pipeline (so before the paths,
  ADR 0001);
- ``fx.metrics.produce``: the same per-carrier counts, for the Prometheus counters.

Processing time (clock skew) is the worker's wall clock when it takes the batch, handed
in by the caller: the pipeline reads no clock. Counts are kept per hour, as the offline
tally keeps them (``DataQualityTally``): a scan under its event hour; a scan dated ahead
and a refused message under the hour of the worker's watermark (the newest data seen).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter

from lastmile.contract.decode import carrier_of_invalid
from lastmile.domain.data_quality import HOUR_S, INVALID, Count, hour_of
from lastmile.domain.events import ScanEvent
from lastmile.domain.facts import OUTBOUND, destination_of
from lastmile.domain.network import Network
from lastmile.domain.outbound import OutboundParcel, outbound_parcel
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.effects import Effects
from lastmile.pipeline.parcels import Located
from lastmile.pipeline.records import DeadLetter

_time_id = itemgetter(5, 0)  # ScanEvent.ts, .event_id: a path's sort key (domain.path)
_type = attrgetter("type")


@dataclass
class ProduceWrites:
    """What one batch teaches the §7 read models (every write idempotent except the
    per-carrier counts, which a replayed batch would count again: see read-models.md)."""

    outbound: dict[str, OutboundParcel] = field(default_factory=dict)  # parcel → facts
    counts: Counter[Count] = field(default_factory=Counter)  # hour, carrier, count name
    point_last: dict[str, float] = field(default_factory=dict)  # village point → newest scan
    first_ts: float = float("inf")  # data clock: scans not ahead of processing time
    newest_ts: float = float("-inf")

    def __bool__(self) -> bool:
        return bool(self.outbound or self.counts or self.point_last)

    def totals(self) -> Counter[tuple[str, str]]:
        """(carrier, count name) → n, over the hours."""
        out: Counter[tuple[str, str]] = Counter()
        for (_, carrier, name), n in self.counts.items():
            out[(carrier, name)] += n
        return out


def step_produce(
    events: Sequence[Located],
    fx: Effects,
    network: Network,
    config: RuleConfig,
    processing_ts: float,
    data_ts: float,
) -> ProduceWrites:
    """Outbound facts, data-quality counts, point activity and the data clock of a batch.

    Which scans are new is what ``step_parcels`` found: a scan object of the batch that is in
    its parcel's new path (found by the path's sort key) is new; a repeat is not folded in.
    So this step looks nothing up and folds nothing again. ``data_ts`` is the worker's
    watermark (the newest data).
    """
    w = ProduceWrites()
    limit = processing_ts + config.clock_skew_s
    clock_hour = hour_of(data_ts if data_ts > 0 else processing_ts)
    tiers = network.tiers
    paths = fx.read_model.paths
    # (hour, carrier) of each scan, by what it was: counted at the end (in C)
    repeated: list[tuple[int, str]] = []
    new: list[tuple[int, str]] = []
    delivered: list[tuple[int, str]] = []
    unlocated: list[tuple[int, str]] = []
    skewed: list[tuple[int, str]] = []
    first, newest = w.first_ts, w.newest_ts
    point_last = w.point_last
    for item in events:
        e = item.event
        if type(e) is not ScanEvent:
            continue
        ts = e.ts
        ahead = ts > limit
        key = (clock_hour, e.carrier) if ahead else (int(ts // HOUR_S), e.carrier)
        path = paths.get(e.parcel_id)
        scans = path.scans if path is not None else ()
        if scans and scans[-1] is e:  # most new scans are their path's newest
            i = len(scans) - 1
        else:
            i = bisect_left(scans, (ts, e.event_id), key=_time_id)
        if i < len(scans) and scans[i] is e:  # new iff this very object was folded in
            new.append(key)
            if ahead:
                skewed.append(key)
            if e.type == "delivered":
                delivered.append(key)
                if e.lat is None:
                    unlocated.append(key)
        else:
            repeated.append(key)
        if ahead:
            continue  # a clock running ahead: no data clock, no point activity
        if ts < first:
            first = ts
        if ts > newest:
            newest = ts
        node = e.node_id
        if node is not None and tiers.get(node) == "village" and ts > point_last.get(node, 0.0):
            point_last[node] = ts
    w.first_ts, w.newest_ts = first, newest
    counts = w.counts
    for name, found in (
        ("scans", new),
        ("delivered", delivered),
        ("delivered_without_location", unlocated),
        ("clock_skewed", skewed),
        ("repeated", repeated),
    ):
        for (hour, carrier), n in Counter(found).items():
            counts[(hour, carrier, name)] += n
    for parcel_id, path in paths.items():
        # only then can it be outbound produce (the step's analysis cached the destination)
        if destination_of(path, network).direction == OUTBOUND and "collected" in map(
            _type, path.scans
        ):
            facts = outbound_parcel(path, network)
            if facts is not None:
                w.outbound[parcel_id] = facts
    _invalid(w, fx.dead_letters, clock_hour)
    fx.read_model.produce = w
    fx.metrics.produce = w
    return w


def _invalid(w: ProduceWrites, letters: Iterable[DeadLetter], hour: int) -> None:
    for d in letters:
        if d.kind == "scans":
            w.counts[(hour, carrier_of_invalid(d.value), INVALID + d.reason)] += 1
