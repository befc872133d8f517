"""Outbound farm produce (农产品上行, contract §7): per-parcel facts and their figures.

A parcel is *outbound produce* when its destination is outside the county and it was
``collected`` at a village point of the network; its town and village are that point's.
``outbound_parcel`` reduces a path to the few facts the figures need, so the streaming
worker can keep one small record per parcel (in Redis) and ``outbound_figures`` gives the
same answer over those records as ``lastmile detect`` does over the analyses.

Readings (docs/rules.md):
- **left the county**: the first ``departed`` scan at a county-tier node after collection;
  a ``delivered`` or ``returned`` scan also ends the parcel's time in the network.
- **first-mile time**: collection → leaving the county, in hours.
- **stalled**: perishable, still in the network, and no *movement* scan for more than
  ``perishable_stall_hours``. "Stalled now" is judged at ``now``; "ever stalled" also counts
  a gap between two movement scans before leaving that was longer than the threshold.
- **out within 24 h**: of the perishable parcels whose 24 hours are over at ``now`` (or
  that already left), the share that left within ``perishable_out_hours`` of collection.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lastmile.domain.facts import OUTBOUND, destination_of
from lastmile.domain.indicators import quantile
from lastmile.domain.network import Network
from lastmile.domain.path import ParcelPath
from lastmile.domain.rules import RuleConfig
from lastmile.domain.vocabulary import MOVEMENT_TYPES

HOUR = 3600.0
_ENDS = frozenset({"delivered", "returned"})


class OutboundParcel(NamedTuple):
    """What the outbound figures need to know of one parcel."""

    parcel_id: str
    town: str
    village: str
    carrier: str  # carrier of the collection scan
    perishable: bool
    collected_ts: float
    left_ts: float | None  # left the county's network (None: still inside)
    last_move_ts: float  # newest movement scan while inside (at leaving: the leaving scan)
    longest_gap_s: float  # longest wait between two movement scans while inside

    def stalled_at(self, now: float, stall_s: float) -> bool:
        return self.perishable and self.left_ts is None and now - self.last_move_ts > stall_s

    def ever_stalled(self, now: float, stall_s: float) -> bool:
        return self.perishable and (self.longest_gap_s > stall_s or self.stalled_at(now, stall_s))


def outbound_parcel(path: ParcelPath, network: Network) -> OutboundParcel | None:
    """The outbound facts of a path, or None when it is not outbound produce (yet)."""
    scans = path.scans
    collected = next(
        (s for s in scans if s.type == "collected" and network.tiers.get(s.node_id) == "village"),
        None,
    )
    if collected is None or destination_of(path, network).direction != OUTBOUND:
        return None
    node = network.node(collected.node_id)
    village = network.village(node.village if node is not None else None)
    if village is None:
        return None
    goods = next((s for s in scans if s.goods_category is not None), None)
    perishable = bool(goods is not None and goods.perishable)
    left: float | None = None
    last_move = collected.ts
    gap = 0.0
    for s in scans:
        if s.ts < collected.ts:
            continue
        if s.type in MOVEMENT_TYPES:
            gap = max(gap, s.ts - last_move)
            last_move = s.ts
        if s.type in _ENDS or (s.type == "departed" and network.tiers.get(s.node_id) == "county"):
            left = s.ts
            break
    return OutboundParcel(
        path.parcel_id,
        village.town,
        village.code,
        collected.carrier,
        perishable,
        collected.ts,
        left,
        last_move,
        gap,
    )


@dataclass
class OutboundGroup:
    """Figures of one slice (a town, a village, a carrier)."""

    collected: int = 0
    perishable: int = 0
    first_mile_h: list[float] = field(default_factory=list)
    stalled_now: int = 0
    stalled_ever: int = 0
    out_decided: int = 0  # perishable parcels whose 24 hours are over, or that left
    out_in_time: int = 0

    def add(self, p: OutboundParcel, now: float, config: RuleConfig) -> None:
        stall_s = config.perishable_stall_hours * HOUR
        out_s = config.perishable_out_hours * HOUR
        self.collected += 1
        if p.left_ts is not None:
            self.first_mile_h.append((p.left_ts - p.collected_ts) / HOUR)
        if not p.perishable:
            return
        self.perishable += 1
        self.stalled_now += p.stalled_at(now, stall_s)
        self.stalled_ever += p.ever_stalled(now, stall_s)
        in_time = p.left_ts is not None and p.left_ts - p.collected_ts <= out_s
        if in_time or now - p.collected_ts > out_s:
            self.out_decided += 1
            self.out_in_time += in_time

    def as_dict(self) -> dict[str, Any]:
        return {
            "collected": self.collected,
            "perishable": self.perishable,
            "first_mile_measured": len(self.first_mile_h),
            "first_mile_median_h": _hours(quantile(self.first_mile_h, 0.5)),
            "first_mile_p90_h": _hours(quantile(self.first_mile_h, 0.9)),
            "perishable_stalled_now": self.stalled_now,
            "perishable_stalled_ever": self.stalled_ever,
            "perishable_out_decided": self.out_decided,
            "perishable_out_within_target": self.out_in_time,
            "perishable_out_share": round(self.out_in_time / self.out_decided, 4)
            if self.out_decided
            else None,
        }


def _hours(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def outbound_figures(
    parcels: Iterable[OutboundParcel], config: RuleConfig, now: float
) -> dict[str, Any]:
    """Totals and figures per town, village and carrier; the stalled parcels by name."""
    total = OutboundGroup()
    groups: dict[str, dict[str, OutboundGroup]] = {
        "by_town": defaultdict(OutboundGroup),
        "by_village": defaultdict(OutboundGroup),
        "by_carrier": defaultdict(OutboundGroup),
    }
    stall_s = config.perishable_stall_hours * HOUR
    stalled_now: list[dict[str, str]] = []
    stalled_ever: list[dict[str, str]] = []
    for p in parcels:
        if p.collected_ts > now:
            continue  # collected after the observed period (or by a clock running ahead)
        for g in (
            total,
            groups["by_town"][p.town],
            groups["by_village"][p.village],
            groups["by_carrier"][p.carrier],
        ):
            g.add(p, now, config)
        named = {"parcel_id": p.parcel_id, "town": p.town, "village": p.village}
        if p.stalled_at(now, stall_s):
            stalled_now.append(named | {"carrier": p.carrier})
        if p.ever_stalled(now, stall_s):
            stalled_ever.append(named | {"carrier": p.carrier})
    return {
        "totals": total.as_dict(),
        **{k: {c: g.as_dict() for c, g in sorted(v.items())} for k, v in groups.items()},
        "stalled_now": sorted(stalled_now, key=lambda d: d["parcel_id"]),
        "stalled_ever": sorted(stalled_ever, key=lambda d: d["parcel_id"]),
    }
