"""The parcels step: a batch of decoded events and the stored paths it asks for → Effects.

For each parcel the batch touches: fold its new events into the stored path, analyse it,
and say what the adapters must do: the path to store, findings to publish or hold,
sign-offs to repartition by courier, what the read models and metrics learn (each
transition counted once: first scan, first sign-off, finished hops, new complaints).
A parcel whose batch brings only repeats costs a lookup and nothing else: its stored path
is written only after every effect of the events in it is durable (ADR 0001), so a
repeat has nothing left to cause.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from itertools import repeat
from operator import attrgetter
from typing import NamedTuple

from lastmile.domain.engine import ParcelAnalysis, analyse_parcel
from lastmile.domain.events import ComplaintEvent, Event, ScanEvent
from lastmile.domain.facts import INBOUND, destination_of, newly_finished_hops
from lastmile.domain.findings import is_held
from lastmile.domain.indicators import end_to_end_hours
from lastmile.domain.network import Network, Village
from lastmile.domain.path import ParcelPath, fold
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.effects import (
    ComplaintFiled,
    Effects,
    FirstDelivery,
    ParcelSeen,
)
from lastmile.pipeline.records import Candidate, HoldKey, SignoffRecord
from lastmile.pipeline.runstate import OpenHop, RunState

_type = attrgetter("type")
_node = attrgetter("node_id")
_carrier = attrgetter("carrier")
_ts = attrgetter("ts")
_ENDS = frozenset({"delivered", "returned"})  # a parcel that has either waits nowhere
_new = tuple.__new__  # a NamedTuple's own __new__ costs a Python call per record


class Located(NamedTuple):
    """A decoded event with the input partition it came from (one per input message: a
    tuple, the cheapest record to build)."""

    event: Event
    topic: str
    partition: int


Lookup = Callable[[str, int], ParcelPath | None]  # parcel id, partition


def step_parcels(
    events: Sequence[Located],
    stored: Lookup,
    network: Network,
    config: RuleConfig,
    state: RunState,
    effects: Effects | None = None,
) -> Effects:
    """Fold a batch into the parcels' paths; returns (or extends) the batch's Effects."""
    fx = effects if effects is not None else Effects()
    by_parcel: dict[str, list[Located]] = {}
    for item in events:
        by_parcel.setdefault(item.event.parcel_id, []).append(item)
    retention_s = config.retention_days * 86400
    states = fx.states
    timelines = fx.read_model.paths
    touch = state.expiry.touch
    fresh: list[ScanEvent] = []  # the batch's new scans, parcel by parcel
    duplicates = 0
    for parcel_id, items in by_parcel.items():
        last = items[-1]
        if len(items) == 1:  # most parcels of a batch: one event
            batch = [last.event]
            newest_ts = last.event.ts
        else:
            batch = [i.event for i in items]
            newest_ts = max(e.ts for e in batch)
        before = stored(parcel_id, last.partition)
        if before is not None and before.last_ts < newest_ts - retention_s:
            before = None  # expired: a waybill number used again
        path, new_scans, new_complaints = fold(before or ParcelPath(parcel_id), batch)
        duplicates += len(batch) - len(new_scans) - len(new_complaints)
        # resent even when repeated: couriers dedup
        delivered_seen = _delivered_ids(batch)
        if not new_scans and not new_complaints and not delivered_seen:
            continue  # only repeats: nothing can have changed
        a = analyse_parcel(path, network, config)
        if new_scans or new_complaints:
            partition = last.partition
            stored_paths = states.get(partition)
            if stored_paths is None:
                stored_paths = states[partition] = {}
            stored_paths[parcel_id] = path
            timelines[parcel_id] = path
            touch(partition, parcel_id, path.last_ts)
        if a.findings:
            _findings(fx, a, last)
        if a.signoffs:
            _signoffs(fx, a, before, delivered_seen, network)
        _facts(fx, a, before, new_scans, new_complaints, network, config)
        _open_hop(state, a, last.partition, network)
        fresh += new_scans
    fx.duplicates += duplicates
    _scans_seen(fx, fresh, network)
    newest, ceiling = state.watermark, state.ceiling
    for ts in map(_ts, fresh):
        if newest < ts <= ceiling:
            newest = ts
    if newest > state.watermark:
        state.watermark = newest
    return fx


_NONE: frozenset[str] = frozenset()


def _delivered_ids(batch: list[Event]) -> AbstractSet[str]:
    """Event ids of the batch's delivered scans (new or repeated)."""
    if len(batch) == 1:
        e = batch[0]
        return {e.event_id} if type(e) is ScanEvent and e.type == "delivered" else _NONE
    return {e.event_id for e in batch if isinstance(e, ScanEvent) and e.type == "delivered"}


def folded_first(fx: Effects, stored: Lookup) -> Lookup:
    """A lookup that sees the paths ``fx`` already holds before the stored ones: for folding
    one batch in slices (each slice folds on the paths the earlier ones made)."""

    def lookup(parcel_id: str, partition: int) -> ParcelPath | None:
        path = fx.states.get(partition, {}).get(parcel_id)
        return path if path is not None else stored(parcel_id, partition)

    return lookup


def expire(state: RunState, partitions: Iterable[int], config: RuleConfig, fx: Effects) -> None:
    """Parcels of these partitions whose newest event left the retention period."""
    horizon = state.watermark - config.retention_days * 86400
    for partition in partitions:
        for pid in state.expiry.expired(partition, horizon):
            fx.expired.setdefault(partition, []).append(pid)
            fx.read_model.expired_paths.append(pid)
            state.open_hops.pop(pid, None)


def _findings(fx: Effects, a: ParcelAnalysis, where: Located) -> None:
    source = f"{where.topic}:{where.partition}"
    held: list[str] = []
    for f in a.findings:
        if is_held(f):
            held.append(f.violation_id)
        else:
            fx.candidates.append(Candidate(f, a.dest, a.contract_carrier or f.carrier, source))
    if held:
        fx.holds[HoldKey(where.partition, a.path.parcel_id)] = held


def _signoffs(
    fx: Effects,
    a: ParcelAnalysis,
    before: ParcelPath | None,
    delivered_seen: AbstractSet[str],
    network: Network,
) -> None:
    """Sign-offs the courier side must see: new ones, or all once a parcel turns inbound."""
    village = a.dest.village
    if not a.inbound or village is None or not a.signoffs:
        return
    was_inbound = before is not None and destination_of(before, network).direction == INBOUND
    for s in a.signoffs:
        if not was_inbound or s.event_id in delivered_seen:
            cc = a.contract_carrier or s.carrier
            fx.signoffs.append(SignoffRecord(s, village.town, village.remote, cc))


def _facts(
    fx: Effects,
    a: ParcelAnalysis,
    before: ParcelPath | None,
    new_scans: list[ScanEvent],
    new_complaints: list[ComplaintEvent],
    network: Network,
    config: RuleConfig,
) -> None:
    """What the read models and metrics count: each transition once."""
    rm = fx.read_model
    village = a.dest.village
    town = village.town if village else "unknown"
    path = a.path
    first = path.scans[0] if path.scans else None
    was = before.scans[0] if before is not None and before.scans else None
    if first is not None and first is not was and first != was:
        rm.parcels_seen.append(ParcelSeen(path.parcel_id, first.ts, town, first.carrier))
    if new_complaints:
        cc = a.contract_carrier or "unknown"
        for c in new_complaints:
            rm.complaints.append(ComplaintFiled(c.complaint_id, c.ts, town, cc, c.category))
            fx.metrics.complaints[(c.category, town)] += 1
    if not new_scans:
        return
    if "delivered" in map(_type, new_scans):
        _reached(fx, new_scans, village, network)
        if a.inbound and village is not None:
            # a first sign-off is a new one: without a new sign-off nothing changes here
            _first_delivery(fx, a, before, village, network, config)
    _finished_hops(fx, path, before, network)


def _scans_seen(fx: Effects, fresh: list[ScanEvent], network: Network) -> None:
    """A batch's new scans: counted by type, carrier and tier; the brands at town centres."""
    if not fresh:
        return
    m = fx.metrics
    nodes = list(map(_node, fresh))
    tiers = map(network.tiers.get, nodes, repeat("unknown"))
    m.scans.update(zip(map(_type, fresh), map(_carrier, fresh), tiers, strict=True))
    m.event_times.extend(map(_ts, fresh))
    brands = fx.read_model.brands
    for s, centre_town in zip(fresh, map(network.centre_towns.get, nodes), strict=True):
        if centre_town is not None:
            _newest(brands, (centre_town, s.carrier), s.ts)


def _reached(
    fx: Effects, new_scans: list[ScanEvent], village: Village | None, network: Network
) -> None:
    """Villages a new sign-off reached (at a village point, or at the parcel's village)."""
    reached = fx.read_model.reached
    for s in new_scans:
        if s.type == "delivered":
            node = network.node(s.node_id)
            if node is not None and node.tier == "village" and node.village:
                _newest(reached, (network.villages[node.village].town, node.village), s.ts)
            elif s.node_id is None and village is not None:
                _newest(reached, (village.town, village.code), s.ts)


def _first_delivery(
    fx: Effects,
    a: ParcelAnalysis,
    before: ParcelPath | None,
    village: Village,
    network: Network,
    config: RuleConfig,
) -> None:
    """An inbound parcel's first sign-off: the rollups and the end-to-end time, once."""
    d = next((s for s in a.path.scans if s.type == "delivered"), None)
    if d is None or (before is not None and "delivered" in map(_type, before.scans)):
        return
    rm, m = fx.read_model, fx.metrics
    town = village.town
    e2e = end_to_end_hours(a, network)
    remote = village.remote
    rm.deliveries.append(FirstDelivery(a.path.parcel_id, d.ts, town, d.carrier, remote, e2e))
    m.deliveries[(d.carrier, town, str(remote).lower())] += 1
    if e2e is not None:
        m.end_to_end_h.append(((d.carrier, town), e2e))
        if e2e <= config.on_time_hours:
            m.within_target[(d.carrier, town)] += 1


def _finished_hops(
    fx: Effects, path: ParcelPath, before: ParcelPath | None, network: Network
) -> None:
    """Dwell of each stay that has just finished (counted once per stay)."""
    dwell = fx.metrics.dwell_h
    for h in newly_finished_hops(before, path, network):
        dwell.append((h.tier, (h.departed_ts - h.arrived_ts) / 3600))  # type: ignore[operator]


def _open_hop(state: RunState, a: ParcelAnalysis, partition: int, network: Network) -> None:
    """Remember where each unfinished inbound parcel waits (for the stuck-parcel gauge)."""
    pid = a.path.parcel_id
    scans = a.path.scans
    if not a.inbound or not scans:
        state.open_hops.pop(pid, None)
        return
    if not _ENDS.isdisjoint(map(_type, scans)):
        state.open_hops.pop(pid, None)
        return
    i = len(scans) - 1
    while i >= 0 and not scans[i].node_id:
        i -= 1
    if i < 0:
        return
    node = scans[i].node_id
    since = scans[i].ts
    for s in reversed(scans):
        if s.node_id == node:
            since = s.ts
        elif s.node_id is not None:
            break
    village = a.dest.village
    town = village.town if village else "unknown"
    tier = network.tiers.get(node, "unknown")
    state.open_hops[pid] = _new(OpenHop, (tier, town, since, partition))


def _newest(into: dict[tuple[str, str], float], key: tuple[str, str], ts: float) -> None:
    if ts > into.get(key, float("-inf")):
        into[key] = ts
