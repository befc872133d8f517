"""Shared builders: a tiny two-town county and terse scan/complaint constructors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count
from typing import Any

from lastmile.contract.decode import complaint_from_obj, scan_from_obj
from lastmile.domain.events import ComplaintEvent, ScanEvent

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=CST)

TINY_NETWORK: dict[str, Any] = {
    "version": 1,
    "county": {"code": "990001", "name": "Test County"},
    "towns": [
        {"code": "990001101", "name": "East Town", "center_node": "T-E"},
        {"code": "990001102", "name": "West Town", "center_node": "T-W"},
    ],
    "villages": [
        {
            "code": "990001101001",
            "name": "Apple",
            "town": "990001101",
            "lat": 36.120,
            "lon": 118.000,
            "remote": False,
            "points": ["P-APPLE"],
        },
        {
            "code": "990001101002",
            "name": "Birch",
            "town": "990001101",
            "lat": 36.140,
            "lon": 118.000,
            "remote": False,
            "points": ["P-BIRCH"],
        },
        {
            "code": "990001101003",
            "name": "Cedar",
            "town": "990001101",
            "lat": 36.160,
            "lon": 118.000,
            "remote": True,
            "points": ["P-CEDAR-1", "P-CEDAR-2"],
        },
        {
            "code": "990001102001",
            "name": "Dune",
            "town": "990001102",
            "lat": 36.100,
            "lon": 117.900,
            "remote": False,
            "points": ["P-DUNE"],
        },
    ],
    "nodes": [
        {"id": "C-1", "tier": "county", "name": "County centre", "lat": 36.000, "lon": 118.000},
        {
            "id": "T-E",
            "tier": "town",
            "town": "990001101",
            "name": "East centre",
            "lat": 36.100,
            "lon": 118.000,
        },
        {
            "id": "T-W",
            "tier": "town",
            "town": "990001102",
            "name": "West centre",
            "lat": 36.100,
            "lon": 117.950,
        },
        {
            "id": "P-APPLE",
            "tier": "village",
            "village": "990001101001",
            "name": "Apple point",
            "lat": 36.120,
            "lon": 118.000,
        },
        {
            "id": "P-BIRCH",
            "tier": "village",
            "village": "990001101002",
            "name": "Birch point",
            "lat": 36.140,
            "lon": 118.000,
        },
        {
            "id": "P-CEDAR-1",
            "tier": "village",
            "village": "990001101003",
            "name": "Cedar shop",
            "lat": 36.160,
            "lon": 118.000,
        },
        {
            "id": "P-CEDAR-2",
            "tier": "village",
            "village": "990001101003",
            "name": "Cedar station",
            "lat": 36.165,
            "lon": 118.005,
        },
        {
            "id": "P-DUNE",
            "tier": "village",
            "village": "990001102001",
            "name": "Dune point",
            "lat": 36.100,
            "lon": 117.900,
        },
    ],
}
APPLE, BIRCH, CEDAR, DUNE = "990001101001", "990001101002", "990001101003", "990001102001"
NODE_XY = {n["id"]: (n["lat"], n["lon"]) for n in TINY_NETWORK["nodes"]}

_ids = count(1)


def scan(
    parcel: str,
    type_: str,
    minutes: float,
    node: str | None = None,
    *,
    carrier: str = "ZTO",
    courier: str | None = None,
    at: tuple[float, float] | None = None,
    dest: str | bool | None = False,
    dest_at: tuple[float, float] | None = None,
    signoff: str = "recipient",
    fee: tuple[float, str] | None = None,
    to_carrier: str | None = None,
    event_id: str | None = None,
    gps: bool = True,
    goods: dict[str, Any] | None = None,
) -> ScanEvent:
    """A scan `minutes` after T0; `at` defaults to the node's position; dest=False: none."""
    obj: dict[str, Any] = {
        "event_id": event_id or f"E{next(_ids)}",
        "parcel_id": parcel,
        "carrier": carrier,
        "type": type_,
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
    }
    if node:
        obj["node_id"] = node
    if courier:
        obj["courier_id"] = courier
    where = at if at is not None else NODE_XY.get(node or "")
    if where and gps:
        obj["location"] = {"lat": where[0], "lon": where[1]}
    if dest is not False:
        obj["destination"] = {"village": dest}
        if dest_at:
            obj["destination"].update(lat=dest_at[0], lon=dest_at[1])
    if type_ == "delivered":
        obj["signoff"] = {"method": signoff}
    if type_ == "fee_charged":
        amount, reason = fee or (5.0, "delivery_surcharge")
        obj["fee"] = {"amount": amount, "reason": reason}
    if type_ == "handover":
        obj["handover"] = {"to_carrier": to_carrier or "EMS"}
    if goods is not None:
        obj["goods"] = goods
    return scan_from_obj(obj)


def complaint(parcel: str, category: str, minutes: float, cid: str | None = None) -> ComplaintEvent:
    return complaint_from_obj(
        {
            "complaint_id": cid or f"C{next(_ids)}",
            "parcel_id": parcel,
            "category": category,
            "filed_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        }
    )


def inbound_path(
    parcel: str, village: str = APPLE, point: str = "P-APPLE", **kw: Any
) -> list[ScanEvent]:
    """County → town → village point, the normal inbound journey up to out_for_delivery."""
    return [
        scan(parcel, "arrived", 0, "C-1", dest=village, **kw),
        scan(parcel, "departed", 60, "C-1", **kw),
        scan(parcel, "arrived", 180, "T-E", **kw),
        scan(parcel, "departed", 600, "T-E", **kw),
        scan(parcel, "arrived", 660, point, **kw),
        scan(parcel, "out_for_delivery", 700, point, **kw),
    ]
