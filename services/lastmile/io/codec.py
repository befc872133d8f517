"""Serialisation of the core's records: parcel paths and sign-off records.

Compact JSON arrays (orjson), versioned by a leading tag so a future layout can be read
beside this one. Times travel as their original RFC 3339 text. Used by the worker's
tables and topics and by the Redis read model (the parcel path behind a timeline).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec
import orjson

from lastmile.domain.bulk import Signoff
from lastmile.domain.events import ComplaintEvent, ScanEvent
from lastmile.domain.path import ParcelPath
from lastmile.pipeline.couriers import CourierIndex
from lastmile.pipeline.records import SignoffRecord

_PATH_V1 = "p1"
_SIGNOFF_V1 = "s1"  # one sign-off per message (older workers)
_SIGNOFFS_V2 = "s2"  # a courier's sign-offs of one batch in one message


def _scan_from_row(row: list[Any]) -> ScanEvent:
    row[4] = datetime.fromisoformat(row[4])
    return ScanEvent(*row)


_PATH_ENCODER = msgspec.json.Encoder()
_recent: dict[int, tuple[ParcelPath, bytes]] = {}  # id(path) → (path, its encoding)
_RECENT_MAX = 8192  # more than one batch's paths: a batch encodes each path once


def encode_path(path: ParcelPath) -> bytes:
    """``["p1", parcel_id, [scan row...], [complaint row...]]``; rows are the events' fields
    in order, times as their RFC 3339 text (orjson writes a ``datetime`` as ``isoformat``).

    A batch stores each changed path twice (its state, its Redis timeline) and paths are
    immutable, so the last few thousand encodings are remembered by identity.
    """
    hit = _recent.get(id(path))
    if hit is not None and hit[0] is path:
        return hit[1]
    complaints = [
        (c.complaint_id, c.parcel_id, c.category, c.filed_at, c.ts) for c in path.complaints
    ]
    # msgspec writes a named tuple as an array itself (orjson calls back into Python for
    # each scan): a quarter less time on the worker's paths, the same JSON but for a UTC
    # time, written "Z" rather than "+00:00" (both read back as the same time)
    data = _PATH_ENCODER.encode((_PATH_V1, path.parcel_id, path.scans, complaints))
    if len(_recent) >= _RECENT_MAX:
        _recent.clear()
    _recent[id(path)] = (path, data)
    return data


def decode_path(data: bytes) -> ParcelPath:
    tag, parcel_id, scans, complaints = orjson.loads(data)
    if tag != _PATH_V1:
        raise ValueError(f"unknown parcel path encoding {tag!r}")
    return ParcelPath(
        parcel_id,
        tuple(_scan_from_row(r) for r in scans),
        tuple(
            ComplaintEvent(c[0], c[1], c[2], datetime.fromisoformat(c[3]), c[4]) for c in complaints
        ),
    )


def _record_row(r: SignoffRecord) -> list[Any]:
    s = r.signoff
    return [
        s.ts,
        s.event_id,
        s.courier_id,
        s.parcel_id,
        s.village,
        s.carrier,
        s.occurred_at.isoformat(),
        r.town,
        r.remote,
        r.contract_carrier,
    ]


def _record_from_row(row: list[Any]) -> SignoffRecord:
    ts, eid, courier, parcel, village, carrier, at, town, remote, cc = row
    s = Signoff(ts, eid, courier, parcel, village, carrier, datetime.fromisoformat(at))
    return SignoffRecord(s, town, remote, cc)


def encode_signoffs(records: Iterable[SignoffRecord]) -> bytes:
    """A message (or a courier table value): sign-off records."""
    return orjson.dumps([_SIGNOFFS_V2, [_record_row(r) for r in records]])


_COURIER_INDEX_V1 = "c1"


def encode_courier_index(index: CourierIndex) -> bytes:
    """A courier's own key in the couriers table: its stored hours and newest sign-off."""
    return orjson.dumps([_COURIER_INDEX_V1, list(index.hours), index.newest])


def decode_courier_value(data: bytes) -> tuple[CourierIndex, list[SignoffRecord]]:
    """A courier's own key: its index, or (the first layout) all its sign-offs in one value."""
    obj = orjson.loads(data)
    if obj and obj[0] == _COURIER_INDEX_V1:
        return CourierIndex(tuple(obj[1]), obj[2]), []
    return CourierIndex(), decode_signoffs(data)


def decode_signoffs(data: bytes) -> list[SignoffRecord]:
    """Sign-off records of a message or table value; reads the one-record layout too."""
    obj = orjson.loads(data)
    tag = obj[0] if obj else _SIGNOFFS_V2
    if isinstance(tag, list):  # the courier table's first layout: untagged records
        return [_record_from_row([*row, town, remote, cc]) for row, town, remote, cc in obj]
    if tag == _SIGNOFFS_V2:
        return [_record_from_row(r) for r in obj[1]]
    if tag == _SIGNOFF_V1:
        return [_record_from_row(obj[1:])]
    raise ValueError(f"unknown sign-off encoding {tag!r}")
