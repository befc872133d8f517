"""Facts derived from a parcel's path: destination, direction, hops, dwell, handovers.

Pure functions of (path, network). The detectors and the indicators read these.
"""

from __future__ import annotations

from dataclasses import dataclass

from lastmile.domain.events import ScanEvent
from lastmile.domain.network import Network, Village
from lastmile.domain.path import ParcelPath

INBOUND = "inbound"
OUTBOUND = "outbound"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Hop:
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


@dataclass(frozen=True, slots=True)
class Destination:
    village: Village | None
    lat: float | None
    lon: float | None
    direction: str  # inbound, outbound or unknown


def destination_of(path: ParcelPath, network: Network) -> Destination:
    """Where the parcel must go, from the earliest scan that says so."""
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
    out: list[Hop] = []
    cur: str | None = None
    arrived = 0.0
    departed: float | None = None
    for s in path.scans:
        nid = s.node_id
        if nid is None:
            continue
        if nid != cur:
            if cur is not None:
                out.append(Hop(cur, network.tier_of(cur) or "unknown", arrived, departed or s.ts))
            cur, arrived, departed = nid, s.ts, None
        if s.type == "departed" and departed is None:
            departed = s.ts
    if cur is not None:
        out.append(Hop(cur, network.tier_of(cur) or "unknown", arrived, departed))
    return out


def handovers(path: ParcelPath) -> list[Handover]:
    """Carrier handovers (邮快合作, 快快合作) in time order."""
    return [
        Handover(s.carrier, s.to_carrier, s.node_id, s.ts, s.event_id)
        for s in path.scans
        if s.type == "handover" and s.to_carrier is not None
    ]
