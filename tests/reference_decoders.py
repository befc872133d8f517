"""Reference implementations the contract's decoder replaced; tests and bench only.

- the hand-written decoder that was the hot path until issue 13 (a fast path that gives
  up on anything odd, and a careful path that names the problem), with contract §7's
  ``goods`` added the same way;
- the pydantic models that stated the contract beside the JSON Schemas.

They are kept out of the package: the tests prove the msgspec decoder
(``lastmile.contract.decode``) gives the same verdicts and the same records, and
``bench/bench_decoders.py`` measures the three side by side.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from lastmile.contract.decode import InvalidMessage
from lastmile.contract.rfc3339 import TimeFormatError, parse_rfc3339
from lastmile.domain.events import ComplaintEvent, ScanEvent
from lastmile.domain.vocabulary import (
    COMPLAINT_CATEGORIES,
    FEE_REASONS,
    GOODS_CATEGORIES,
    PERISHABLE_BY_DEFAULT,
    SCAN_TYPES,
    SEVERITIES,
    SIGNOFF_METHODS,
    VIOLATION_TYPES,
)

# ============================================================== the hand decoder (old)

_SCAN_TYPES = frozenset(SCAN_TYPES)
_SIGNOFF = frozenset(SIGNOFF_METHODS)
_FEE_REASONS = frozenset(FEE_REASONS)
_CATEGORIES = frozenset(COMPLAINT_CATEGORIES)
_GOODS = frozenset(GOODS_CATEGORIES)


def _text(obj: dict[str, Any], key: str, max_len: int, required: bool) -> Any:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidMessage("missing_field", f"{key} is required")
        return None
    if type(value) is not str:
        raise InvalidMessage("wrong_type", f"{key} must be a string")
    if not 0 < len(value) <= max_len:
        raise InvalidMessage("bad_length", f"{key} must be 1-{max_len} characters")
    return value


def _number(obj: dict[str, Any], key: str, lo: float, hi: float, where: str) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    t = type(value)
    if t is not float and t is not int:
        raise InvalidMessage("wrong_type", f"{where}.{key} must be a number")
    if not lo <= value <= hi:
        raise InvalidMessage("out_of_range", f"{where}.{key} out of range")
    return float(value)


def _block(obj: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not dict:
        raise InvalidMessage("wrong_type", f"{key} must be an object")
    return value


def _time(obj: dict[str, Any], key: str) -> Any:
    value = obj.get(key)
    if value is None:
        raise InvalidMessage("missing_field", f"{key} is required")
    try:
        return parse_rfc3339(value)
    except TimeFormatError as exc:
        raise InvalidMessage("bad_time", f"{key}: {exc}") from None


def _load(raw: bytes | str) -> dict[str, Any]:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage("invalid_json", str(exc)[:120]) from None
    if type(obj) is not dict:
        raise InvalidMessage("not_an_object", "a message must be a JSON object")
    return obj


def _goods(obj: dict[str, Any]) -> tuple[str | None, bool | None]:
    goods = _block(obj, "goods")
    if goods is None:
        return None, None
    category = goods.get("category")
    if category is None:
        raise InvalidMessage("missing_field", "goods.category is required")
    if type(category) is not str or category not in _GOODS:
        raise InvalidMessage("bad_enum", "goods.category is not a goods category")
    flag = goods.get("perishable")
    if flag is not None and type(flag) is not bool:
        raise InvalidMessage("wrong_type", "goods.perishable must be a boolean")
    if category in PERISHABLE_BY_DEFAULT:
        return category, flag is not False
    return category, flag is True


_INF = float("inf")


_TIMES: dict[str, tuple[datetime, float]] = {}  # time text → (datetime, epoch seconds)


def _parse_time_cached(text: str) -> tuple[datetime, float] | None:
    """A valid RFC 3339 time (cached: events often share a second), else None."""
    hit = _TIMES.get(text)
    if hit is not None:
        return hit
    try:
        when = parse_rfc3339(text)
    except TimeFormatError:
        return None
    if len(_TIMES) > 200_000:
        _TIMES.clear()
    hit = _TIMES[text] = (when, when.timestamp())
    return hit


def _opt_text(value: Any, max_len: int) -> bool:
    return value is None or (type(value) is str and 0 < len(value) <= max_len)


def _num_in(value: Any, lo: float, hi: float) -> bool:
    t = type(value)
    return (t is float or t is int) and lo <= value <= hi


def _fast_scan(obj: dict[str, Any]) -> ScanEvent | None:
    """The happy path: a fully valid scan in one pass, or None to take the careful path.

    Accepts exactly what ``_careful_scan`` accepts (tests feed both the same corpus); when
    anything looks off it gives up, and the careful path finds the precise reason.
    """
    g = obj.get
    event_id, parcel_id, carrier, stype, at = (
        g("event_id"),
        g("parcel_id"),
        g("carrier"),
        g("type"),
        g("occurred_at"),
    )
    if not (
        type(event_id) is str
        and 0 < len(event_id) <= 64
        and type(parcel_id) is str
        and 0 < len(parcel_id) <= 40
        and type(carrier) is str
        and 0 < len(carrier) <= 16
        and type(stype) is str
        and stype in _SCAN_TYPES
        and type(at) is str
    ):
        return None
    parsed = _parse_time_cached(at)
    node_id, courier_id = g("node_id"), g("courier_id")
    if parsed is None or not (_opt_text(node_id, 128) and _opt_text(courier_id, 128)):
        return None
    lat = lon = dlat = dlon = village = None
    has_village = False
    loc = g("location")
    if loc is not None:
        if type(loc) is not dict:
            return None
        lat, lon, acc = loc.get("lat"), loc.get("lon"), loc.get("accuracy_m")
        if not (_num_in(lat, -90, 90) and _num_in(lon, -180, 180)):
            return None
        if acc is not None and not _num_in(acc, 0, _INF):
            return None
        lat, lon = float(lat), float(lon)  # type: ignore[arg-type]
    dest = g("destination")
    if dest is not None:
        if type(dest) is not dict:
            return None
        if "village" in dest:
            has_village = True
            village = dest["village"]
            if not _opt_text(village, 128):
                return None
        dlat, dlon = dest.get("lat"), dest.get("lon")
        if (dlat is not None and not _num_in(dlat, -90, 90)) or (
            dlon is not None and not _num_in(dlon, -180, 180)
        ):
            return None
        if dlat is None or dlon is None:
            dlat = dlon = None  # half an address point is no address point
        else:
            dlat, dlon = float(dlat), float(dlon)
    to_carrier = signoff = fee_amount = fee_reason = None
    if stype == "delivered" or g("signoff") is not None:
        sign = g("signoff")
        if type(sign) is not dict:
            return None
        signoff = sign.get("method")
        if type(signoff) is not str or signoff not in _SIGNOFF:
            return None
    if stype == "fee_charged" or g("fee") is not None:
        fee = g("fee")
        if type(fee) is not dict:
            return None
        fee_amount, fee_reason = fee.get("amount"), fee.get("reason")
        if not _num_in(fee_amount, 0, _INF) or type(fee_reason) is not str:
            return None
        if fee_reason not in _FEE_REASONS:
            return None
        fee_amount = float(fee_amount)  # type: ignore[arg-type]
    if stype == "handover" or g("handover") is not None:
        hand = g("handover")
        if type(hand) is not dict:
            return None
        to_carrier = hand.get("to_carrier")
        if type(to_carrier) is not str or not 0 < len(to_carrier) <= 16:
            return None
    try:
        category, perishable = _goods(obj)
    except InvalidMessage:
        return None
    when, ts = parsed
    return ScanEvent(
        event_id,
        parcel_id,
        carrier,
        stype,
        when,
        ts,
        node_id,
        courier_id,
        lat,
        lon,
        has_village,
        village,
        dlat,
        dlon,
        to_carrier,
        signoff,
        fee_amount,
        fee_reason,
        category,
        perishable,
    )


def hand_scan_from_obj(obj: dict[str, Any]) -> ScanEvent:
    """Validate one decoded scan.v1 object and build its event record."""
    fast = _fast_scan(obj)
    return fast if fast is not None else _careful_scan(obj)


def _careful_scan(obj: dict[str, Any]) -> ScanEvent:
    """Validate field by field; raise InvalidMessage naming the first problem."""
    event_id = _text(obj, "event_id", 64, True)
    parcel_id = _text(obj, "parcel_id", 40, True)
    carrier = _text(obj, "carrier", 16, True)
    stype = obj.get("type")
    if stype is None:
        raise InvalidMessage("missing_field", "type is required")
    if type(stype) is not str or stype not in _SCAN_TYPES:
        raise InvalidMessage("bad_enum", f"type {str(stype)[:32]!r} is not a scan type")
    when = _time(obj, "occurred_at")
    node_id = _text(obj, "node_id", 128, False)
    courier_id = _text(obj, "courier_id", 128, False)

    lat = lon = None
    loc = _block(obj, "location")
    if loc is not None:
        lat = _number(loc, "lat", -90, 90, "location")
        lon = _number(loc, "lon", -180, 180, "location")
        if lat is None or lon is None:
            raise InvalidMessage("missing_field", "location needs lat and lon")
        _number(loc, "accuracy_m", 0, _INF, "location")

    has_village = False
    village = dlat = dlon = None
    dest = _block(obj, "destination")
    if dest is not None:
        if "village" in dest:
            has_village = True
            village = _text(dest, "village", 128, False)
        dlat = _number(dest, "lat", -90, 90, "destination")
        dlon = _number(dest, "lon", -180, 180, "destination")
        if (dlat is None) != (dlon is None):
            dlat = dlon = None  # half an address point is no address point

    to_carrier = signoff = fee_reason = None
    fee_amount = None
    hand = _block(obj, "handover")
    if hand is not None:
        to_carrier = _text(hand, "to_carrier", 16, True)
    sign = _block(obj, "signoff")
    if sign is not None:
        signoff = sign.get("method")
        if signoff is None:
            raise InvalidMessage("missing_field", "signoff.method is required")
        if type(signoff) is not str or signoff not in _SIGNOFF:
            raise InvalidMessage("bad_enum", "signoff.method is not a sign-off method")
    fee = _block(obj, "fee")
    if fee is not None:
        fee_amount = _number(fee, "amount", 0, _INF, "fee")
        if fee_amount is None:
            raise InvalidMessage("missing_field", "fee.amount is required")
        fee_reason = fee.get("reason")
        if fee_reason is None:
            raise InvalidMessage("missing_field", "fee.reason is required")
        if type(fee_reason) is not str or fee_reason not in _FEE_REASONS:
            raise InvalidMessage("bad_enum", "fee.reason is not a fee reason")

    category, perishable = _goods(obj)

    if stype == "delivered" and signoff is None:
        raise InvalidMessage("missing_block", "type=delivered requires a signoff block")
    if stype == "fee_charged" and fee_amount is None:
        raise InvalidMessage("missing_block", "type=fee_charged requires a fee block")
    if stype == "handover" and to_carrier is None:
        raise InvalidMessage("missing_block", "type=handover requires a handover block")

    return ScanEvent(
        event_id,
        parcel_id,
        carrier,
        stype,
        when,
        when.timestamp(),
        node_id,
        courier_id,
        lat,
        lon,
        has_village,
        village,
        dlat,
        dlon,
        to_carrier,
        signoff,
        fee_amount,
        fee_reason,
        category,
        perishable,
    )


def hand_decode_scan(raw: bytes | str) -> ScanEvent:
    """Decode and validate one raw scan.v1 message; raise InvalidMessage with the reason."""
    return hand_scan_from_obj(_load(raw))


def hand_complaint_from_obj(obj: dict[str, Any]) -> ComplaintEvent:
    """Validate one decoded complaint.v1 object and build its event record."""
    complaint_id = _text(obj, "complaint_id", 64, True)
    parcel_id = _text(obj, "parcel_id", 128, True)
    category = obj.get("category")
    if category is None:
        raise InvalidMessage("missing_field", "category is required")
    if type(category) is not str or category not in _CATEGORIES:
        raise InvalidMessage("bad_enum", f"category {str(category)[:32]!r} is not a category")
    when = _time(obj, "filed_at")
    return ComplaintEvent(complaint_id, parcel_id, category, when, when.timestamp())


def hand_decode_complaint(raw: bytes | str) -> ComplaintEvent:
    """Decode and validate one raw complaint.v1 message; raise InvalidMessage with the reason."""
    return hand_complaint_from_obj(_load(raw))


# ============================================================== the pydantic models (old)

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
ViolationType = Literal["wrong_address", "false_signoff", "extra_fee"]
Severity = Literal["low", "medium", "high"]
GoodsCategory = Literal["fresh_produce", "food", "documents", "general", "other"]

# the contract states the domain's vocabulary (lastmile.domain.vocabulary); they must agree
for _literal, _codes in (
    (ScanType, SCAN_TYPES),
    (SignoffMethod, SIGNOFF_METHODS),
    (FeeReason, FEE_REASONS),
    (ComplaintCategory, COMPLAINT_CATEGORIES),
    (ViolationType, VIOLATION_TYPES),
    (Severity, SEVERITIES),
    (GoodsCategory, GOODS_CATEGORIES),
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


def _ptext(max_length: int) -> Any:
    return Annotated[StrictStr, Field(min_length=1, max_length=max_length)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class Location(_Message):
    lat: Latitude
    lon: Longitude
    accuracy_m: Annotated[Number, Field(ge=0)] | None = None


class Destination(_Message):
    """Where the parcel must go. ``village=None`` means outside the county (outbound)."""

    village: _ptext(128) | None = None  # type: ignore[valid-type]
    lat: Latitude | None = None
    lon: Longitude | None = None


class Handover(_Message):
    to_carrier: _ptext(16)  # type: ignore[valid-type]


class Signoff(_Message):
    method: SignoffMethod


class Fee(_Message):
    amount: Annotated[Number, Field(ge=0)]
    reason: FeeReason


class Goods(_Message):
    category: GoodsCategory
    perishable: StrictBool | None = None


class Scan(_Message):
    """scan.v1: one scan of one parcel by one courier firm."""

    event_id: _ptext(64)  # type: ignore[valid-type]
    parcel_id: _ptext(40)  # type: ignore[valid-type]
    carrier: _ptext(16)  # type: ignore[valid-type]
    type: ScanType
    occurred_at: Rfc3339
    node_id: _ptext(128) | None = None  # type: ignore[valid-type]
    courier_id: _ptext(128) | None = None  # type: ignore[valid-type]
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

    complaint_id: _ptext(64)  # type: ignore[valid-type]
    parcel_id: _ptext(128)  # type: ignore[valid-type]
    category: ComplaintCategory
    filed_at: Rfc3339


class Violation(_Message):
    """violation.v1: one detected abuse; the id is a function of (parcel, type, rule)."""

    violation_id: _ptext(64)  # type: ignore[valid-type]
    type: ViolationType
    rule: _ptext(32)  # type: ignore[valid-type]
    severity: Severity
    parcel_id: _ptext(40)  # type: ignore[valid-type]
    carrier: _ptext(16)  # type: ignore[valid-type]
    contract_carrier: _ptext(16)  # type: ignore[valid-type]
    courier_id: StrictStr | None = None
    town: StrictStr | None = None
    village: StrictStr | None = None
    remote: bool | None = None
    occurred_at: Rfc3339
    detected_at: Rfc3339
    evidence: list[StrictStr] = Field(min_length=1)
    detail: dict[str, Any] = Field(default_factory=dict)
