"""The indicators of contract §6, computed from parcel analyses.

Pure: ``now`` (the end of the observed period) is passed in. Offline commands use the
newest event time seen, so a replay of the same log always reports the same figures.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lastmile.domain.engine import ParcelAnalysis
from lastmile.domain.facts import INBOUND, OUTBOUND, hops
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig

HOUR = 3600.0
DAY = 86400.0


def quantile(values: list[float], q: float) -> float | None:
    """Linear-interpolated quantile of a list (None when empty)."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def end_to_end_hours(a: ParcelAnalysis, network: Network) -> float | None:
    """First county-centre arrival → first sign-off after it, in hours."""
    start = None
    for s in a.path.scans:
        if start is None:
            if s.type == "arrived" and network.tier_of(s.node_id) == "county":
                start = s.ts
        elif s.type == "delivered":
            return (s.ts - start) / HOUR
    return None


@dataclass
class Group:
    """Figures of one slice (a carrier, a town, a carrier in a town...)."""

    deliveries: int = 0
    e2e_hours: list[float] = field(default_factory=list)
    on_time: int = 0

    def as_dict(self) -> dict[str, Any]:
        n = len(self.e2e_hours)
        return {
            "deliveries": self.deliveries,
            "end_to_end_measured": n,
            "on_time_72h": self.on_time,
            "on_time_rate": round(self.on_time / n, 4) if n else None,
            "end_to_end_median_h": _r(quantile(self.e2e_hours, 0.5)),
            "end_to_end_p90_h": _r(quantile(self.e2e_hours, 0.9)),
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def compute_indicators(
    analyses: Iterable[ParcelAnalysis], network: Network, config: RuleConfig, now: float
) -> dict[str, Any]:
    """Deliveries, end-to-end time, 72-hour on-time, dwell, stuck parcels, coverage, fusion."""
    parcels = inbound = outbound = 0
    total = Group()
    by_carrier: dict[str, Group] = defaultdict(Group)
    by_town: dict[str, Group] = defaultdict(Group)
    dwell: dict[str, list[float]] = defaultdict(list)
    stuck: Counter[tuple[str, str]] = Counter()
    complaints: Counter[str] = Counter()
    reached: dict[str, set[str]] = defaultdict(set)
    brands: dict[str, set[str]] = defaultdict(set)
    window_start = now - config.coverage_days * DAY
    stuck_s = config.stuck_hours * HOUR
    on_time_h = config.on_time_hours

    centre_town = {t.center_node: code for code, t in network.towns.items()}
    point_village = {pid: (v.code, v.town) for v in network.villages.values() for pid in v.points}
    for a in analyses:
        parcels += 1
        complaints.update(c.category for c in a.path.complaints)
        for s in a.path.scans:
            if window_start < s.ts <= now:
                town = centre_town.get(s.node_id)  # type: ignore[arg-type]
                if town is not None:
                    brands[town].add(s.carrier)
                if s.type == "delivered":
                    at_point = point_village.get(s.node_id)  # type: ignore[arg-type]
                    if at_point is not None:
                        reached[at_point[1]].add(at_point[0])
                    elif s.node_id is None and a.inbound and a.dest.village is not None:
                        reached[a.dest.village.town].add(a.dest.village.code)
        hop_list = hops(a.path, network)
        for h in hop_list:
            if h.dwell_s is not None:
                dwell[h.tier].append(h.dwell_s / HOUR)
        if a.dest.direction == OUTBOUND:
            outbound += 1
        if a.dest.direction != INBOUND or a.dest.village is None:
            continue
        inbound += 1
        town_code = a.dest.village.town
        delivered = next((s for s in a.path.scans if s.type == "delivered"), None)
        finished = delivered is not None or any(s.type == "returned" for s in a.path.scans)
        if not finished and hop_list:
            last = hop_list[-1]
            if last.departed_ts is None and now - last.arrived_ts > stuck_s:
                stuck[(last.tier, town_code)] += 1
        if delivered is None:
            continue
        groups = (total, by_carrier[delivered.carrier], by_town[town_code])
        e2e = end_to_end_hours(a, network)
        for g in groups:
            g.deliveries += 1
            if e2e is not None:
                g.e2e_hours.append(e2e)
                g.on_time += e2e <= on_time_h

    coverage = {}
    for code, town_info in network.towns.items():
        villages = network.villages_of(code)
        got = reached.get(code, set())
        coverage[code] = {
            "name": town_info.name,
            "villages": len(villages),
            "reached": len(got),
            "coverage": round(len(got) / len(villages), 4) if villages else None,
            "not_reached": sorted(set(villages) - got),
            "brands": sorted(brands.get(code, set())),
            "brand_count": len(brands.get(code, set())),
        }
    n_complaints = sum(complaints.values())
    return {
        "parcels": parcels,
        "inbound": inbound,
        "outbound": outbound,
        "totals": total.as_dict(),
        "by_carrier": {k: v.as_dict() for k, v in sorted(by_carrier.items())},
        "by_town": {k: v.as_dict() for k, v in sorted(by_town.items())},
        "dwell_hours": {
            tier: {
                "hops": len(v),
                "median": _r(quantile(v, 0.5)),
                "p90": _r(quantile(v, 0.9)),
            }
            for tier, v in sorted(dwell.items())
        },
        "stuck_over_48h": [
            {"tier": tier, "town": town, "parcels": n} for (tier, town), n in sorted(stuck.items())
        ],
        "towns": coverage,
        "complaints": dict(sorted(complaints.items())),
        "complaints_per_million_parcels": round(n_complaints / parcels * 1e6, 1)
        if parcels
        else None,
    }
