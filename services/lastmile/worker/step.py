"""One batch of decoded events through the core. No I/O: the agents do that.

For each parcel touched by the batch, fold its new events into the stored path, analyse
it, and report what the adapters must do: findings (the gate decides which are new),
sign-offs to repartition by courier, and the transitions the metrics and read models
count once (first sign-off, finished hops).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lastmile.domain.bulk import Signoff
from lastmile.domain.engine import ParcelAnalysis, analyse_parcel
from lastmile.domain.events import ComplaintEvent, Event, ScanEvent
from lastmile.domain.facts import INBOUND, Hop, destination_of, hops
from lastmile.domain.findings import Finding
from lastmile.domain.indicators import end_to_end_hours
from lastmile.domain.network import Network
from lastmile.domain.path import ParcelPath, evolve
from lastmile.domain.rules import RuleConfig

Source = tuple[str, int]  # (topic, partition) the event came from


@dataclass
class ParcelUpdate:
    analysis: ParcelAnalysis
    source: Source
    first_delivery: ScanEvent | None = None
    end_to_end_h: float | None = None
    finished_hops: list[Hop] = field(default_factory=list)
    new_scans: list[ScanEvent] = field(default_factory=list)
    new_complaints: list[ComplaintEvent] = field(default_factory=list)


@dataclass
class BatchOutcome:
    updates: list[ParcelUpdate] = field(default_factory=list)
    duplicates: int = 0

    def findings(self) -> Iterable[tuple[Finding, ParcelAnalysis, Source]]:
        for u in self.updates:
            for f in u.analysis.findings:
                yield f, u.analysis, u.source


def apply_batch(
    events: Iterable[tuple[Event, Source]],
    lookup: Callable[[str], ParcelPath | None],
    network: Network,
    config: RuleConfig,
) -> tuple[BatchOutcome, dict[str, ParcelPath], list[tuple[Signoff, ParcelAnalysis, Source]]]:
    """Fold a batch; returns the outcome, the paths to store, and sign-offs to repartition."""
    by_parcel: dict[str, list[tuple[Event, Source]]] = {}
    for item in events:
        by_parcel.setdefault(item[0].parcel_id, []).append(item)

    outcome = BatchOutcome()
    to_store: dict[str, ParcelPath] = {}
    signoffs: list[tuple[Signoff, ParcelAnalysis, Source]] = []
    retention_s = config.retention_days * 86400
    for parcel_id, items in by_parcel.items():
        before = lookup(parcel_id)
        newest = max(e.ts for e, _ in items)
        if before is not None and before.last_ts < newest - retention_s:
            before = None  # expired: a waybill number used again
        path = before or ParcelPath(parcel_id)
        new_scans: list[ScanEvent] = []
        new_complaints: list[ComplaintEvent] = []
        delivered_seen: list[ScanEvent] = []
        for event, _ in items:
            after = evolve(path, event)
            if isinstance(event, ScanEvent) and event.type == "delivered":
                delivered_seen.append(event)  # resent even when repeated: the courier table dedups
            if after is path:
                outcome.duplicates += 1
                continue
            path = after
            if isinstance(event, ScanEvent):
                new_scans.append(event)
            else:
                new_complaints.append(event)
        source = items[-1][1]
        analysis = analyse_parcel(path, network, config)
        update = ParcelUpdate(analysis, source, new_scans=new_scans, new_complaints=new_complaints)
        if new_scans or new_complaints:
            to_store[parcel_id] = path
        if analysis.inbound:
            was_inbound = (
                before is not None and destination_of(before, network).direction == INBOUND
            )
            wanted = {s.event_id for s in delivered_seen}
            for s in analysis.signoffs:
                if not was_inbound or s.event_id in wanted:
                    signoffs.append((s, analysis, source))
            had_delivery = before is not None and any(s.type == "delivered" for s in before.scans)
            first = next((s for s in path.scans if s.type == "delivered"), None)
            if first is not None and not had_delivery:
                update.first_delivery = first
                update.end_to_end_h = end_to_end_hours(analysis, network)
        if new_scans:
            old_done = (
                {
                    (h.node_id, h.arrived_ts)
                    for h in hops(before, network)
                    if h.departed_ts is not None
                }
                if before
                else set()
            )
            update.finished_hops = [
                h
                for h in hops(path, network)
                if h.departed_ts is not None and (h.node_id, h.arrived_ts) not in old_done
            ]
        outcome.updates.append(update)
    return outcome, to_store, signoffs
