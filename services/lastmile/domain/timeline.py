"""A parcel's reconstructed path as the regulator reads it: hops, dwell, handovers, scans."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lastmile.domain.engine import ParcelAnalysis
from lastmile.domain.facts import handovers, hops
from lastmile.domain.network import Network


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def timeline(a: ParcelAnalysis, network: Network) -> dict[str, Any]:
    """JSON-ready timeline of one parcel (read model behind GET /v1/parcels/{id})."""
    village = a.dest.village
    scans = []
    for s in a.path.scans:
        row: dict[str, Any] = {
            "event_id": s.event_id,
            "type": s.type,
            "carrier": s.carrier,
            "occurred_at": s.occurred_at.isoformat(),
            "node_id": s.node_id,
            "tier": network.tier_of(s.node_id),
            "courier_id": s.courier_id,
        }
        if s.lat is not None:
            row["location"] = {"lat": s.lat, "lon": s.lon}
        if s.signoff:
            row["signoff"] = s.signoff
        if s.fee_reason:
            row["fee"] = {"amount": s.fee_amount, "reason": s.fee_reason}
        if s.to_carrier:
            row["handover_to"] = s.to_carrier
        scans.append(row)
    return {
        "parcel_id": a.path.parcel_id,
        "direction": a.dest.direction,
        "destination": {
            "village": village.code if village else None,
            "village_name": village.name if village else None,
            "town": village.town if village else None,
            "remote": village.remote if village else None,
        },
        "contract_carrier": a.contract_carrier,
        "carriers": sorted({s.carrier for s in a.path.scans}),
        "hops": [
            {
                "node_id": h.node_id,
                "tier": h.tier,
                "arrived_at": _iso(h.arrived_ts),
                "departed_at": _iso(h.departed_ts),
                "dwell_h": None if h.dwell_s is None else round(h.dwell_s / 3600, 2),
            }
            for h in hops(a.path, network)
        ],
        "handovers": [
            {
                "from": h.from_carrier,
                "to": h.to_carrier,
                "node_id": h.node_id,
                "at": _iso(h.ts),
                "event_id": h.event_id,
            }
            for h in handovers(a.path)
        ],
        "scans": scans,
        "complaints": [
            {
                "complaint_id": c.complaint_id,
                "category": c.category,
                "filed_at": c.filed_at.isoformat(),
            }
            for c in a.path.complaints
        ],
        "violations": sorted(f.violation_id for f in a.findings),
    }
