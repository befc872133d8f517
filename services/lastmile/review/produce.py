"""The review's contract §7 sections: outbound farm produce per town, data quality per carrier.

Both sources fill a ``ProduceCollected`` (the Redis read models through
``readmodel.produce``, a replay through the core's tally) and the section is built from it
by the same core functions ``lastmile detect`` uses:

- **outbound** (农产品上行): the parcels collected in the period, per town: produce sent, of
  it perishable, first-mile median and p90, perishable stalled at the end of the period
  (or at the newest data, if earlier) and ever, and the share out within 24 h; the stalled
  parcels by name;
- **data quality**, per carrier, in the period: sign-offs and the share without location,
  scans dated ahead of processing time, repeated event ids, invalid messages by reason (a
  scan counts by its event time; one dated ahead, and a refused message, by the newest
  data when it arrived); and the village points silent at the newest data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lastmile.domain.data_quality import CarrierQuality, DataClock, data_quality_figures
from lastmile.domain.network import Network
from lastmile.domain.outbound import OutboundParcel, outbound_figures
from lastmile.domain.rules import RuleConfig

SCOPE = (
    "scans by event time; scans dated ahead of processing time and invalid messages by "
    "the newest data when they arrived"
)


@dataclass
class ProduceCollected:
    outbound: list[OutboundParcel] = field(default_factory=list)  # collected in the period
    quality: dict[str, CarrierQuality] = field(default_factory=dict)
    point_last: dict[str, float] = field(default_factory=dict)
    clock: DataClock = field(default_factory=DataClock)


def produce_sections(
    pc: ProduceCollected,
    network: Network,
    config: RuleConfig,
    period_end: float,
    town: str | None = None,
    carrier: str | None = None,
) -> dict[str, Any]:
    """The review's ``outbound`` and ``data_quality`` entries."""
    now = min(period_end, pc.clock.newest)
    parcels = [
        p
        for p in pc.outbound
        if (town is None or p.town == town) and (carrier is None or p.carrier == carrier)
    ]
    fig = outbound_figures(parcels, config, now)
    stalled_now = {s["parcel_id"] for s in fig["stalled_now"]}
    towns = [
        {"code": code, "name": network.towns[code].name, **fig["by_town"].get(code, {})}
        for code in network.towns
        if (town is None or code == town) and code in fig["by_town"]
    ]
    quality = {c: q for c, q in pc.quality.items() if carrier is None or c == carrier}
    dq = data_quality_figures(quality, pc.point_last, pc.clock, network, config)
    silent = [p for p in dq["silent_points"] if town is None or p["town"] == town]
    return {
        "outbound": {
            "as_of_ts": now if parcels else None,
            "totals": fig["totals"],
            "towns": towns,
            "stalled": [
                s | {"stalled_now": s["parcel_id"] in stalled_now} for s in fig["stalled_ever"]
            ],
        },
        "data_quality": {
            "scope": SCOPE,
            "carriers": [{"code": c, **q} for c, q in dq["by_carrier"].items()],
            "silent_points": [
                p | {"village_name": network.villages[p["village"]].name} for p in silent
            ],
        },
    }
