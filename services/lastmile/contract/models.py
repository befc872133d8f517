"""Pydantic models of the v1 messages. The JSON Schemas in schemas/ say the same thing.

Strict where the contract is strict (types, lengths, enums, RFC 3339 times with an
offset, the per-type required blocks) and tolerant where it says so (unknown extra
fields are ignored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from lastmile.contract.rfc3339 import parse_rfc3339
from lastmile.domain.vocabulary import (
    COMPLAINT_CATEGORIES,
    FEE_REASONS,
    GOODS_CATEGORIES,
    SCAN_TYPES,
    SEVERITIES,
    SIGNOFF_METHODS,
    VIOLATION_TYPES,
)

ScanType = Literal[
    "collected",
    "arrived",
    "departed",
    "handover",
    "out_for_delivery",
    "delivered",
    "fee_charged",
    "returned",
    "exception",
]
SignoffMethod = Literal["recipient", "proxy", "locker", "station"]
FeeReason = Literal["delivery_surcharge", "cod_payment", "other"]
ComplaintCategory = Literal["not_received", "extra_fee", "not_delivered_to_address", "other"]
GoodsCategory = Literal["fresh_produce", "food", "documents", "general", "other"]
ViolationType = Literal["wrong_address", "false_signoff", "extra_fee"]
Severity = Literal["low", "medium", "high"]

# the contract states the domain's vocabulary (lastmile.domain.vocabulary); they must agree
for _literal, _codes in (
    (ScanType, SCAN_TYPES),
    (SignoffMethod, SIGNOFF_METHODS),
    (FeeReason, FEE_REASONS),
    (ComplaintCategory, COMPLAINT_CATEGORIES),
    (GoodsCategory, GOODS_CATEGORIES),
    (ViolationType, VIOLATION_TYPES),
    (Severity, SEVERITIES),
):
    if get_args(_literal) != _codes:
        raise ImportError(f"contract and domain vocabularies differ: {get_args(_literal)} {_codes}")


def _format_time(value: datetime) -> str:
    return value.isoformat()


Rfc3339 = Annotated[
    datetime,
    BeforeValidator(parse_rfc3339),
    PlainSerializer(_format_time, return_type=str),
]
Number = StrictInt | StrictFloat
Latitude = Annotated[Number, Field(ge=-90, le=90)]
Longitude = Annotated[Number, Field(ge=-180, le=180)]


def _text(max_length: int) -> Any:
    return Annotated[StrictStr, Field(min_length=1, max_length=max_length)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class Location(_Message):
    lat: Latitude
    lon: Longitude
    accuracy_m: Annotated[Number, Field(ge=0)] | None = None


class Destination(_Message):
    """Where the parcel must go. ``village=None`` means outside the county (outbound)."""

    village: _text(128) | None = None  # type: ignore[valid-type]
    lat: Latitude | None = None
    lon: Longitude | None = None


class Handover(_Message):
    to_carrier: _text(16)  # type: ignore[valid-type]


class Signoff(_Message):
    method: SignoffMethod


class Fee(_Message):
    amount: Annotated[Number, Field(ge=0)]
    reason: FeeReason


class Goods(_Message):
    """What the parcel carries (contract §7); optional, backwards compatible."""

    category: GoodsCategory
    perishable: bool | None = None


class Scan(_Message):
    """scan.v1: one scan of one parcel by one courier firm."""

    event_id: _text(64)  # type: ignore[valid-type]
    parcel_id: _text(40)  # type: ignore[valid-type]
    carrier: _text(16)  # type: ignore[valid-type]
    type: ScanType
    occurred_at: Rfc3339
    node_id: _text(128) | None = None  # type: ignore[valid-type]
    courier_id: _text(128) | None = None  # type: ignore[valid-type]
    location: Location | None = None
    destination: Destination | None = None
    handover: Handover | None = None
    signoff: Signoff | None = None
    fee: Fee | None = None
    goods: Goods | None = None

    @model_validator(mode="after")
    def _required_block(self) -> Scan:
        if self.type == "handover" and self.handover is None:
            raise ValueError("type=handover requires a handover block")
        if self.type == "delivered" and self.signoff is None:
            raise ValueError("type=delivered requires a signoff block")
        if self.type == "fee_charged" and self.fee is None:
            raise ValueError("type=fee_charged requires a fee block")
        return self


class Complaint(_Message):
    """complaint.v1: a complaint from the 12305 postal complaint line."""

    complaint_id: _text(64)  # type: ignore[valid-type]
    parcel_id: _text(128)  # type: ignore[valid-type]
    category: ComplaintCategory
    filed_at: Rfc3339


class Violation(_Message):
    """violation.v1: one detected abuse; the id is a function of (parcel, type, rule)."""

    violation_id: _text(64)  # type: ignore[valid-type]
    type: ViolationType
    rule: _text(32)  # type: ignore[valid-type]
    severity: Severity
    parcel_id: _text(40)  # type: ignore[valid-type]
    carrier: _text(16)  # type: ignore[valid-type]
    contract_carrier: _text(16)  # type: ignore[valid-type]
    courier_id: StrictStr | None = None
    town: StrictStr | None = None
    village: StrictStr | None = None
    remote: bool | None = None
    occurred_at: Rfc3339
    detected_at: Rfc3339
    evidence: list[StrictStr] = Field(min_length=1)
    detail: dict[str, Any] = Field(default_factory=dict)
