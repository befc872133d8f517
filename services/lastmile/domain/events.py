"""Compact immutable event records folded by the core.

They are NamedTuples rather than pydantic models: the core touches every event on its
hot path, and a tuple is cheap to build, compare, hash and pickle. The decoder in
``lastmile.contract.decode`` builds them from raw bytes and is checked against the
pydantic models and the JSON Schemas.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class ScanEvent(NamedTuple):
    event_id: str
    parcel_id: str
    carrier: str
    type: str
    occurred_at: datetime
    ts: float  # occurred_at as epoch seconds
    node_id: str | None = None
    courier_id: str | None = None
    lat: float | None = None
    lon: float | None = None
    has_dest_village: bool = False  # the scan says which village (or explicitly none)
    dest_village: str | None = None  # None with has_dest_village=True means outbound
    dest_lat: float | None = None
    dest_lon: float | None = None
    to_carrier: str | None = None  # handover
    signoff: str | None = None  # delivered
    fee_amount: float | None = None  # fee_charged
    fee_reason: str | None = None
    goods_category: str | None = None  # contract §7 `goods.category`; None without `goods`
    perishable: bool | None = None  # resolved: see vocabulary.is_perishable

    @property
    def sort_key(self) -> tuple[float, str]:
        return (self.ts, self.event_id)

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None


class ComplaintEvent(NamedTuple):
    complaint_id: str
    parcel_id: str
    category: str
    filed_at: datetime
    ts: float

    @property
    def sort_key(self) -> tuple[float, str]:
        return (self.ts, self.complaint_id)


Event = ScanEvent | ComplaintEvent
