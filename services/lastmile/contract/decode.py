"""Decoding raw scan/complaint messages into the core's event records.

The hot path of ``detect`` and of the worker. A ``msgspec.json.Decoder`` of the message
definitions (``lastmile.contract.messages``) parses and validates in one pass; the record
is then built from the Struct. A refusal is an ``InvalidMessage`` with a short, bounded
reason code (a metric label and the dead letter's ``lastmile-reason``) and a human detail
naming the field (``$.location.lat``). ``bench/bench_decoders.py`` measures this against
the hand decoder it replaced and pydantic; tests prove the verdicts equal on a corpus and
on hypothesis mutations.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec
import orjson

from lastmile.contract.messages import Complaint, Scan, field_paths, is_enum, is_time
from lastmile.contract.rfc3339 import TimeFormatError, parse_rfc3339
from lastmile.domain.events import ComplaintEvent, ScanEvent
from lastmile.domain.vocabulary import resolve_perishable

if TYPE_CHECKING:
    from datetime import datetime

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
_DETAIL_MAX = 160


class InvalidMessage(ValueError):
    """A message the contract refuses; ``reason`` is a bounded code, ``detail`` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# msgspec's validation messages, by kind: "<what> - at `$.path`"
_AT = re.compile(r" - at `(?P<path>[^`]*)`$")
_KINDS: tuple[tuple[str, str], ...] = (
    ("Object missing required field", "missing_field"),
    ("Invalid enum value", "bad_enum"),
    ("matching regex", "bad_time"),  # the only patterns are the RFC 3339 times
    ("of length", "bad_length"),
    ("Expected `array` of length", "bad_length"),
    (">=", "out_of_range"),
    ("Number out of range", "out_of_range"),
    ("<=", "out_of_range"),
    ("requires a", "missing_block"),
    ("Expected `", "wrong_type"),
)


# a value of the wrong type where the contract wants a time or a code is a bad time/code
_TIME_PATHS = field_paths(Scan, is_time) | field_paths(Complaint, is_time)
_ENUM_PATHS = field_paths(Scan, is_enum) | field_paths(Complaint, is_enum)


def _refusal(exc: msgspec.ValidationError) -> InvalidMessage:
    message = str(exc)
    m = _AT.search(message)
    path = m.group("path") if m else "$"
    what = message[: m.start()] if m else message
    if path == "$" and what.startswith("Expected `object`"):
        return InvalidMessage("not_an_object", "a message must be a JSON object")
    if what.endswith("got `null`"):
        return InvalidMessage("missing_field", f"{path} is required")
    reason = next((code for marker, code in _KINDS if marker in what), "wrong_type")
    if reason == "wrong_type" and path in _TIME_PATHS:
        reason = "bad_time"
    elif reason == "wrong_type" and path in _ENUM_PATHS:
        reason = "bad_enum"
    if reason == "bad_time":
        what = "not an RFC 3339 time with an explicit offset"
    return InvalidMessage(reason, f"{path}: {what}"[:_DETAIL_MAX])


_TIMES: dict[str, tuple[datetime, float]] = {}  # time text → (datetime, epoch seconds)


def _time(text: str, field: str) -> tuple[datetime, float]:
    """A time the pattern already admitted (cached: events often share a second)."""
    hit = _TIMES.get(text)
    if hit is not None:
        return hit
    try:
        when = parse_rfc3339(text)
    except TimeFormatError as exc:  # e.g. month 13
        raise InvalidMessage("bad_time", f"$.{field}: {exc}") from None
    if len(_TIMES) > 200_000:
        _TIMES.clear()
    hit = _TIMES[text] = (when, when.timestamp())
    return hit


_UNSET = msgspec.UNSET
_new = tuple.__new__  # the NamedTuples' own __new__ costs a Python call per record


def _scan_event(s: Scan) -> ScanEvent:
    at = s.occurred_at
    hit = _TIMES.get(at)  # inlined: most scans share their second with an earlier one
    when, ts = hit if hit is not None else _time(at, "occurred_at")
    lat = lon = dlat = dlon = village = None
    has_village = False
    loc = s.location
    if loc is not None:
        lat = loc.lat
        lon = loc.lon
    dest = s.destination
    if dest is not None:
        village = dest.village
        if village is _UNSET:
            village = None
        else:
            has_village = True
        if dest.lat is not None and dest.lon is not None:  # half a point is no point
            dlat = dest.lat
            dlon = dest.lon
    hand = s.handover
    sign = s.signoff
    fee = s.fee
    goods = s.goods
    category = perishable = None
    if goods is not None:
        category = goods.category
        perishable = resolve_perishable(category, goods.perishable)
    return _new(  # type: ignore[no-any-return]
        ScanEvent,
        (
            s.event_id,
            s.parcel_id,
            s.carrier,
            s.type,
            when,
            ts,
            s.node_id,
            s.courier_id,
            lat,
            lon,
            has_village,
            village,
            dlat,
            dlon,
            None if hand is None else hand.to_carrier,
            None if sign is None else sign.method,
            None if fee is None else fee.amount,
            None if fee is None else fee.reason,
            category,
            perishable,
        ),
    )


def _complaint_event(c: Complaint) -> ComplaintEvent:
    when, ts = _time(c.filed_at, "filed_at")
    return _new(  # type: ignore[no-any-return]
        ComplaintEvent, (c.complaint_id, c.parcel_id, c.category, when, ts)
    )


_SCAN_DECODER = msgspec.json.Decoder(Scan)
_COMPLAINT_DECODER = msgspec.json.Decoder(Complaint)


def _decode(decoder: msgspec.json.Decoder[Any], raw: bytes | str) -> Any:
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise _refusal(exc) from None
    except msgspec.DecodeError as exc:
        raise InvalidMessage("invalid_json", str(exc)[:_DETAIL_MAX]) from None
    except RecursionError:  # msgspec refuses deep nesting (even in an ignored field) so
        raise InvalidMessage("invalid_json", "nested too deeply") from None
    except UnicodeDecodeError:  # bytes that are not UTF-8 inside a string
        raise InvalidMessage("invalid_json", "not valid UTF-8") from None


def _convert(obj: Any, kind: type[Any]) -> Any:
    try:
        return msgspec.convert(obj, kind)
    except msgspec.ValidationError as exc:
        raise _refusal(exc) from None
    except RecursionError:
        raise InvalidMessage("invalid_json", "nested too deeply") from None


def decode_scan(raw: bytes | str) -> ScanEvent:
    """Decode and validate one raw scan.v1 message; raise InvalidMessage with the reason."""
    scan: Scan = _decode(_SCAN_DECODER, raw)
    return _scan_event(scan)


def scan_from_obj(obj: dict[str, Any]) -> ScanEvent:
    """Validate one already-parsed scan.v1 object and build its event record."""
    scan: Scan = _convert(obj, Scan)
    return _scan_event(scan)


def decode_complaint(raw: bytes | str) -> ComplaintEvent:
    """Decode and validate one raw complaint.v1 message; raise InvalidMessage with the reason."""
    complaint: Complaint = _decode(_COMPLAINT_DECODER, raw)
    return _complaint_event(complaint)


def complaint_from_obj(obj: dict[str, Any]) -> ComplaintEvent:
    """Validate one already-parsed complaint.v1 object and build its event record."""
    complaint: Complaint = _convert(obj, Complaint)
    return _complaint_event(complaint)


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
