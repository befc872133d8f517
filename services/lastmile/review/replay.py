"""Source 2: replay the event log through the core and collect one period from it.

The log is read and analysed once (``load_replay``); ``collect_replay`` then slices any
period out of it, so a review and its previous period, or every town of a schedule,
cost one replay. The rules are the core's (``Detection``); only period filtering and the
grouping by town and carrier live here, with the worker's conventions: a parcel counts
on the China date of its first scan, a delivery on that of its first sign-off, a
complaint on that of ``filed_at``, a violation on that of its ``occurred_at``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from lastmile.contract.decode import carrier_of_invalid, decode_complaint, decode_scan
from lastmile.domain.data_quality import DataQualityTally, carriers_from_counts
from lastmile.domain.engine import Detection, ParcelAnalysis
from lastmile.domain.events import Event, ScanEvent
from lastmile.domain.facts import hops
from lastmile.domain.indicators import HOUR, compute_indicators, end_to_end_hours
from lastmile.domain.network import Network
from lastmile.domain.outbound import outbound_parcel
from lastmile.domain.path import ParcelPath
from lastmile.domain.rules import RuleConfig
from lastmile.io.events import InputStats, read_events
from lastmile.review.collected import UNKNOWN, Collected, ViolationRef
from lastmile.review.period import Period, china_day
from lastmile.review.produce import ProduceCollected


@dataclass
class Replay:
    network: Network
    config: RuleConfig
    analyses: list[ParcelAnalysis]
    violations: list[dict[str, Any]]
    inputs: dict[str, InputStats] = field(default_factory=dict)
    tally: DataQualityTally | None = None  # contract §7 data quality of the whole log

    def span(self) -> Period | None:
        """The China dates from the log's first to its last event (None: empty log)."""
        ts = [e.ts for a in self.analyses for e in (*a.path.scans[:1], *a.path.scans[-1:])]
        ts += [c.ts for a in self.analyses for c in a.path.complaints]
        if not ts:
            return None
        return Period(
            date.fromisoformat(china_day(min(ts))), date.fromisoformat(china_day(max(ts)))
        )


def replay_events(
    detection: Detection,
    inputs: dict[str, InputStats] | None = None,
    detected_at: datetime | None = None,
) -> Replay:
    analyses = detection.analyses()
    violations = detection.violations(detected_at or datetime.now(UTC), analyses)
    return Replay(detection.network, detection.config, analyses, violations, inputs or {})


def load_replay(network: Network, config: RuleConfig, scans: str, complaints: str | None) -> Replay:
    """Read scan (and complaint) JSONL through the contract decoders and the core."""
    detection = Detection(network, config)
    inputs = {"scans": InputStats()}
    # processing time of a replay (contract §7 clock skew): the time of the run
    tally = DataQualityTally(network, config, datetime.now(UTC).timestamp())

    def on_scan(event: Event) -> None:
        if isinstance(event, ScanEvent):
            tally.scan(event)

    def on_invalid(raw: bytes, reason: str) -> None:
        tally.invalid(carrier_of_invalid(raw), reason)

    read_events(scans, "scans", decode_scan, detection, None, inputs["scans"], on_scan, on_invalid)
    if complaints is not None:
        inputs["complaints"] = InputStats()
        read_events(
            complaints, "complaints", decode_complaint, detection, None, inputs["complaints"]
        )
    replay = replay_events(detection, inputs)
    replay.tally = tally
    return replay


def _town(a: ParcelAnalysis) -> str:
    return a.dest.village.town if a.dest.village is not None else UNKNOWN


def stuck_at(
    a: ParcelAnalysis, network: Network, at: float, stuck_s: float
) -> tuple[str, str] | None:
    """(tier, town) where an unfinished inbound parcel sat more than ``stuck_s`` at ``at``.

    Only the scans before ``at`` are considered: a parcel delivered after the period was
    still stuck at its end. Same test as the core's indicator, on the truncated path.
    """
    if not a.inbound or a.dest.village is None:
        return None
    scans = tuple(s for s in a.path.scans if s.ts < at)
    if not scans or any(s.type in ("delivered", "returned") for s in scans):
        return None
    hop_list = hops(ParcelPath(a.path.parcel_id, scans), network)
    if not hop_list:
        return None
    last = hop_list[-1]
    if last.departed_ts is None and at - last.arrived_ts > stuck_s:
        return last.tier, a.dest.village.town
    return None


def collect_replay(replay: Replay, period: Period) -> Collected:
    net, cfg = replay.network, replay.config
    out = Collected("replay", period, dwell={}, stuck=Counter())
    assert out.dwell is not None and out.stuck is not None
    start, end = period.start_ts, period.end_ts
    stuck_s = cfg.stuck_hours * HOUR
    for a in replay.analyses:
        town = _town(a)
        scans = a.path.scans
        carrier = a.contract_carrier
        if scans and start <= scans[0].ts < end:
            out.parcels[(town, carrier)] += 1
        for c in a.path.complaints:
            if start <= c.ts < end:
                out.complaints[(town, carrier, c.category)] += 1
        if a.inbound and a.dest.village is not None:
            first: ScanEvent | None = next((s for s in scans if s.type == "delivered"), None)
            if first is not None and start <= first.ts < end:
                out.deliveries[(town, first.carrier, a.dest.village.remote)] += 1
                e2e = end_to_end_hours(a, net)
                if e2e is not None:
                    # the worker stores hours with 4 decimals; so does the replay
                    out.e2e.setdefault((town, first.carrier), []).append(round(e2e, 4))
            where = stuck_at(a, net, end, stuck_s)
            if where is not None:
                out.stuck[where] += 1
        for h in hops(a.path, net):
            if h.departed_ts is not None and start <= h.departed_ts < end:
                out.dwell.setdefault((h.tier, town), []).append(
                    (h.departed_ts - h.arrived_ts) / HOUR
                )
    for v in replay.violations:
        ts = datetime.fromisoformat(v["occurred_at"]).timestamp()
        if period.contains_day(china_day(ts)):
            ref = ViolationRef.from_doc(v)
            out.violations[(ref.town, ref.carrier, ref.type, ref.rule)] += 1
            out.refs.append(ref)
    if replay.tally is not None:
        facts = (outbound_parcel(a.path, net) for a in replay.analyses)
        tally = replay.tally
        out.produce = ProduceCollected(
            [p for p in facts if p is not None and start <= p.collected_ts < end],
            carriers_from_counts(tally.hourly.items(), start, end),
            tally.point_last,
            tally.clock,
        )
    # coverage 通达率 and brand fusion over the coverage window ending with the period
    towns = compute_indicators(replay.analyses, net, cfg, end)["towns"]
    for code, t in towns.items():
        out.reached[code] = set(net.villages_of(code)) - set(t["not_reached"])
        out.brands[code] = set(t["brands"])
    return out
