"""Fast decoding of raw scan/complaint messages into the core's event records.

This is the hot path of ``detect`` and of the worker. It enforces exactly what the
pydantic models in ``models.py`` enforce (a test feeds both the same corpus of good
and bad messages and hypothesis-generated ones) at a fraction of the cost.
Every refusal carries a short, bounded reason code (used as a metric label) and a
human detail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from lastmile.contract.rfc3339 import TimeFormatError, parse_rfc3339
from lastmile.domain.vocabulary import (
    COMPLAINT_CATEGORIES,
    FEE_REASONS,
    GOODS_CATEGORIES,
    SCAN_TYPES,
    SIGNOFF_METHODS,
    resolve_perishable,
)

if TYPE_CHECKING:
    from datetime import datetime
from lastmile.domain.events import ComplaintEvent, ScanEvent

REASONS = (
    "invalid_json",
    "not_an_object",
    "missing_field",
    "wrong_type",
    "bad_length",
    "bad_enum",
    "bad_time",
    "out_of_range",
    "missing_block",
)

_SCAN_TYPES = frozenset(SCAN_TYPES)
_SIGNOFF = frozenset(SIGNOFF_METHODS)
_FEE_REASONS = frozenset(FEE_REASONS)
_CATEGORIES = frozenset(COMPLAINT_CATEGORIES)
_GOODS = frozenset(GOODS_CATEGORIES)


class InvalidMessage(ValueError):
    """A message the contract refuses; ``reason`` is a bounded code, ``detail`` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


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
    goods_category = perishable = None
    goods = g("goods")
    if goods is not None:
        if type(goods) is not dict:
            return None
        goods_category, flag = goods.get("category"), goods.get("perishable")
        if type(goods_category) is not str or goods_category not in _GOODS:
            return None
        if flag is not None and type(flag) is not bool:
            return None
        perishable = resolve_perishable(goods_category, flag)
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
        goods_category,
        perishable,
    )


def scan_from_obj(obj: dict[str, Any]) -> ScanEvent:
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

    goods_category, perishable = _goods(obj)

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
        goods_category,
        perishable,
    )


def _goods(obj: dict[str, Any]) -> tuple[str | None, bool | None]:
    """The optional ``goods`` block: (category, resolved perishable flag) or (None, None)."""
    goods = _block(obj, "goods")
    if goods is None:
        return None, None
    category = goods.get("category")
    if category is None:
        raise InvalidMessage("missing_field", "goods.category is required")
    if type(category) is not str or category not in _GOODS:
        raise InvalidMessage("bad_enum", f"goods.category {str(category)[:32]!r} is not a category")
    flag = goods.get("perishable")
    if flag is not None and type(flag) is not bool:
        raise InvalidMessage("wrong_type", "goods.perishable must be true or false")
    return category, resolve_perishable(category, flag)


UNKNOWN_CARRIER = "unknown"


def carrier_of_invalid(raw: bytes | str | None) -> str:
    """Best effort: the ``carrier`` a refused message names, else ``unknown``.

    Only a printable string of 1-16 characters (a carrier code) is taken, so a hostile
    message cannot make an unbounded metric label out of anything longer.
    """
    if not raw:
        return UNKNOWN_CARRIER
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return UNKNOWN_CARRIER
    carrier = obj.get("carrier") if type(obj) is dict else None
    if type(carrier) is str and 0 < len(carrier) <= 16 and carrier.isprintable():
        return carrier
    return UNKNOWN_CARRIER


def decode_scan(raw: bytes | str) -> ScanEvent:
    """Decode and validate one raw scan.v1 message; raise InvalidMessage with the reason."""
    return scan_from_obj(_load(raw))


def complaint_from_obj(obj: dict[str, Any]) -> ComplaintEvent:
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


def decode_complaint(raw: bytes | str) -> ComplaintEvent:
    """Decode and validate one raw complaint.v1 message; raise InvalidMessage with the reason."""
    return complaint_from_obj(_load(raw))
