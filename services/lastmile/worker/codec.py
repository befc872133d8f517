"""Serialisation of the core's records for Kafka: parcel paths and sign-off records.

Compact JSON arrays (orjson), versioned by a leading tag so a future layout can be
read beside this one. Times travel as their original RFC 3339 text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from lastmile.domain.bulk import Signoff
from lastmile.domain.events import ComplaintEvent, ScanEvent
from lastmile.domain.path import ParcelPath

_PATH_V1 = "p1"
_SIGNOFF_V1 = "s1"


def _scan_row(e: ScanEvent) -> list[Any]:
    row = list(e)
    row[4] = e.occurred_at.isoformat()
    return row


def _scan_from_row(row: list[Any]) -> ScanEvent:
    row[4] = datetime.fromisoformat(row[4])
    return ScanEvent(*row)


def encode_path(path: ParcelPath) -> bytes:
    complaints = [
        [c.complaint_id, c.parcel_id, c.category, c.filed_at.isoformat(), c.ts]
        for c in path.complaints
    ]
    return orjson.dumps([_PATH_V1, path.parcel_id, [_scan_row(s) for s in path.scans], complaints])


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


def encode_signoff(s: Signoff, town: str, remote: bool, contract_carrier: str) -> bytes:
    return orjson.dumps(
        [
            _SIGNOFF_V1,
            s.ts,
            s.event_id,
            s.courier_id,
            s.parcel_id,
            s.village,
            s.carrier,
            s.occurred_at.isoformat(),
            town,
            remote,
            contract_carrier,
        ]
    )


def decode_signoff(data: bytes) -> tuple[Signoff, str, bool, str]:
    tag, ts, eid, courier, parcel, village, carrier, at, town, remote, cc = orjson.loads(data)
    if tag != _SIGNOFF_V1:
        raise ValueError(f"unknown sign-off encoding {tag!r}")
    return (
        Signoff(ts, eid, courier, parcel, village, carrier, datetime.fromisoformat(at)),
        town,
        remote,
        cc,
    )


class SignoffsCodec:
    """The courier table's values: a courier's sign-offs with their labels."""

    def dumps(self, obj: Any) -> bytes:
        return orjson.dumps([[[*s[:6], s[6].isoformat()], *rest] for s, *rest in obj])

    def loads(self, data: bytes) -> Any:
        out = []
        for row, town, remote, cc in orjson.loads(data):
            row[6] = datetime.fromisoformat(row[6])
            out.append((Signoff(*row), town, remote, cc))
        return out
