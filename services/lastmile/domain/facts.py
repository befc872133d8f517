"""Facts derived from a parcel's path: destination, direction, hops, dwell, handovers.

Pure functions of (path, network). The detectors and the indicators read these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from lastmile.domain.events import ScanEvent
from lastmile.domain.network import Network, Village
from lastmile.domain.path import ParcelPath

INBOUND = "inbound"
OUTBOUND = "outbound"
UNKNOWN = "unknown"


class Hop(NamedTuple):
    """A stay at one facility: from the first scan there to leaving it."""

    node_id: str
    tier: str
    arrived_ts: float
    departed_ts: float | None  # None: still there (as far as we know)

    @property
    def dwell_s(self) -> float | None:
        return None if self.departed_ts is None else self.departed_ts - self.arrived_ts


@dataclass(frozen=True, slots=True)
class Handover:
    from_carrier: str
    to_carrier: str
    node_id: str | None
    ts: float
    event_id: str


class Destination(NamedTuple):
    village: Village | None
    lat: float | None
    lon: float | None
    direction: str  # inbound, outbound or unknown


def destination_of(path: ParcelPath, network: Network) -> Destination:
    """Where the parcel must go, from the earliest scan that says so."""
    memo = path.destination_memo
    if memo is not None and memo[0] is network:
        return memo[1]
    dest = _destination(path, network)
    object.__setattr__(path, "destination_memo", (network, dest))
    return dest


def _destination(path: ParcelPath, network: Network) -> Destination:
    village_scan: ScanEvent | None = None
    point_scan: ScanEvent | None = None
    for s in path.scans:
        if village_scan is None and s.has_dest_village:
            village_scan = s
        if point_scan is None and s.dest_lat is not None:
            point_scan = s
        if village_scan is not None and point_scan is not None:
            break
    if village_scan is not None and village_scan.dest_lat is not None:
        point_scan = village_scan
    lat = point_scan.dest_lat if point_scan else None
    lon = point_scan.dest_lon if point_scan else None
    if village_scan is None:
        return Destination(None, lat, lon, UNKNOWN)
    if village_scan.dest_village is None:
        return Destination(None, lat, lon, OUTBOUND)
    village = network.village(village_scan.dest_village)
    # a village code that is not in this county's network: not inbound here
    return Destination(village, lat, lon, INBOUND if village else OUTBOUND)


def contract_carrier(path: ParcelPath) -> str | None:
    """Carrier of the parcel's earliest scan."""
    return path.scans[0].carrier if path.scans else None


def delivered_scans(path: ParcelPath) -> list[ScanEvent]:
    return [s for s in path.scans if s.type == "delivered"]


def hops(path: ParcelPath, network: Network) -> list[Hop]:
    """Stays at facilities, in time order; a stay ends at its departed scan or the next node."""
    return _stays(path.scans, network.tiers)


def _stays(scans: Sequence[ScanEvent], tiers: Mapping[str | None, str]) -> list[Hop]:
    """``hops`` over a run of scans that starts a stay (or holds no node before it)."""
    out: list[Hop] = []
    cur: str | None = None
    arrived = 0.0
    departed: float | None = None
    for s in scans:
        nid = s.node_id
        if nid is None:
            continue
        if nid != cur:
            if cur is not None:
                out.append(Hop(cur, tiers.get(cur, "unknown"), arrived, departed or s.ts))
            cur, arrived, departed = nid, s.ts, None
        if departed is None and s.type == "departed":
            departed = s.ts
    if cur is not None:
        out.append(Hop(cur, tiers.get(cur, "unknown"), arrived, departed))
    return out


def newly_finished_hops(
    before: ParcelPath | None, after: ParcelPath, network: Network
) -> list[Hop]:
    """Stays ``after`` reports finished that ``before`` did not (by node and arrival time).

    ``after`` is ``before`` with events folded in. Stays that end before the earliest new
    scan are the same in both, so only the scans from the start of the stay holding that
    point are walked again (all of them when an equal arrival time could match old stays).
    """
    old = before.scans if before is not None else ()
    k = len(old)
    if len(after.scans) == k + 1 and (k == 0 or after.scans[k - 1] is old[-1]):
        appended = _finished_by_appended_scan(old, after.scans[k], network.tiers)
        if appended is not None:
            return appended
    start = 0
    if before is not None:
        start = _unchanged_stays_end(before.scans, after.scans)
    done = set()
    if before is not None:
        done = {
            (h.node_id, h.arrived_ts)
            for h in _stays(before.scans[start:], network.tiers)
            if h.departed_ts is not None
        }
    return [
        h
        for h in _stays(after.scans[start:], network.tiers)
        if h.departed_ts is not None and (h.node_id, h.arrived_ts) not in done
    ]


def _finished_by_appended_scan(
    old: Sequence[ScanEvent], s: ScanEvent, tiers: Mapping[str | None, str]
) -> list[Hop] | None:
    """``newly_finished_hops`` when one scan ``s`` is appended after every scan of ``old``
    (most batches bring a parcel one scan, its newest): it can finish the stay ``old`` ends
    in, and a stay it begins with a departed scan. None when the stay ``old`` ends in began
    at the time of the scan before it: a stay's key (node, arrival time) could then repeat
    an earlier one's, and the caller compares stays (otherwise every earlier stay arrived
    before the last one, so neither key ``s`` can finish was seen finished)."""
    nid = s.node_id
    if nid is None:
        return []
    out: list[Hop] = []
    i = len(old) - 1
    while i >= 0 and old[i].node_id is None:
        i -= 1
    if i >= 0:  # the stay ``old`` ends in: its node, first scan, and whether it departed
        node = old[i].node_id
        start, departed = i, False
        while i >= 0:
            n = old[i].node_id
            if n is not None:
                if n != node:
                    break
                start = i
                departed = departed or old[i].type == "departed"
            i -= 1
        if i >= 0 and old[i].ts >= old[start].ts:
            return None
        if not departed and (nid != node or s.type == "departed"):
            out.append(Hop(node, tiers.get(node, "unknown"), old[start].ts, s.ts))  # type: ignore[arg-type]
        if nid == node:
            return out
    if s.type == "departed":  # a stay begun and left by one scan (a new key: see above)
        out.append(Hop(nid, tiers.get(nid, "unknown"), s.ts, s.ts))
    return out


def _unchanged_stays_end(old: Sequence[ScanEvent], new: Sequence[ScanEvent]) -> int:
    """Index where the stay holding the first changed scan starts (0 when unsure)."""
    k = len(old)
    if k and new[k - 1] is not old[-1]:  # else every old scan kept its place
        k = next(i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a is not b)
    node: str | None = None
    start = k
    i = k - 1
    while i >= 0:
        nid = new[i].node_id
        if nid is not None:
            if node is None:
                node = nid
            elif nid != node:
                break
            start = i
        i -= 1
    # a stay that ends before ``start`` arrived no later than it: at the same instant it
    # could share its key with a later stay, so the whole path is compared then
    if i >= 0 and new[i].ts >= new[start].ts:
        return 0
    return start


def handovers(path: ParcelPath) -> list[Handover]:
    """Carrier handovers (邮快合作, 快快合作) in time order."""
    return [
        Handover(s.carrier, s.to_carrier, s.node_id, s.ts, s.event_id)
        for s in path.scans
        if s.type == "handover" and s.to_carrier is not None
    ]
