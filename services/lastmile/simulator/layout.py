"""From generated events to the lines of the output files.

The order of the lines is the order in which a consumer would receive them: each line
lands at its event time plus a transmission delay (seconds mostly, minutes to hours for
devices that upload in batches, days for late arrivals); producers' retries repeat a
line byte for byte (duplicates); a few lines are mangled (invalid) and are *extra* lines,
so they never take a real event away from the set the rulebook sees.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from lastmile.simulator.generator import HOUR, Generated

SCAN_INVALID_KINDS = (
    "not_json",
    "not_an_object",
    "missing_field",
    "unknown_type",
    "integer_time",
    "time_without_offset",
    "date_only_time",
    "delivered_without_signoff",
    "unknown_signoff_method",
    "fee_charged_without_fee",
    "handover_without_block",
    "wrong_type",
    "location_out_of_range",
    "event_id_too_long",
)
COMPLAINT_INVALID_KINDS = (
    "not_json",
    "missing_field",
    "unknown_category",
    "time_without_offset",
    "integer_time",
    "wrong_type",
)
REQUIRED_SCAN = ("event_id", "parcel_id", "carrier", "type", "occurred_at")
REQUIRED_COMPLAINT = ("complaint_id", "parcel_id", "category", "filed_at")
LATE_S = 6 * HOUR  # a line delayed by 6 h or more counts as a late arrival


def _delay(r: random.Random, late: float) -> float:
    u = r.random()
    if u < late:
        return r.uniform(LATE_S, 72 * HOUR)
    if u < late + 0.03:
        return r.uniform(300, 2 * HOUR)  # a device that uploads in batches
    return r.expovariate(1 / 45)


def _mangle_scan(r: random.Random, kind: str, raw: bytes, ts: int) -> bytes:
    d = orjson.loads(raw)
    if kind == "not_json":
        raw = orjson.dumps(d)
        return raw[: r.randint(10, len(raw) - 2)]
    if kind == "not_an_object":
        return orjson.dumps([d])
    if kind == "missing_field":
        del d[r.choice(REQUIRED_SCAN)]
    elif kind == "unknown_type":
        d["type"] = r.choice(("teleported", "DELIVERED", "signed", "lost"))
    elif kind == "integer_time":
        d["occurred_at"] = ts
    elif kind == "time_without_offset":
        d["occurred_at"] = d["occurred_at"][:19]
    elif kind == "date_only_time":
        d["occurred_at"] = d["occurred_at"][:10]
    elif kind == "delivered_without_signoff":
        del d["signoff"]
    elif kind == "unknown_signoff_method":
        d["signoff"] = {"method": "drone"}
    elif kind == "fee_charged_without_fee":
        del d["fee"]
    elif kind == "handover_without_block":
        del d["handover"]
    elif kind == "wrong_type":
        d[r.choice(("parcel_id", "carrier"))] = r.randint(1, 10**9)
    elif kind == "location_out_of_range":
        d["location"] = {"lat": 236.18, "lon": 118.17, "accuracy_m": 10.0}
    elif kind == "event_id_too_long":
        d["event_id"] = d["event_id"] + "-" + "retry" * 14
    return orjson.dumps(d)


def _mangle_complaint(r: random.Random, kind: str, raw: bytes, ts: int) -> bytes:
    d = orjson.loads(raw)
    if kind == "not_json":
        raw = orjson.dumps(d)
        return raw[: r.randint(10, len(raw) - 2)]
    if kind == "missing_field":
        del d[r.choice(REQUIRED_COMPLAINT)]
    elif kind == "unknown_category":
        d["category"] = r.choice(("lost", "rude_courier", "NOT_RECEIVED"))
    elif kind == "time_without_offset":
        d["filed_at"] = d["filed_at"][:19]
    elif kind == "integer_time":
        d["filed_at"] = ts
    elif kind == "wrong_type":
        d["parcel_id"] = r.randint(1, 10**9)
    return orjson.dumps(d)


def _needs(kind: str) -> str | None:
    return {
        "delivered_without_signoff": "delivered",
        "unknown_signoff_method": "delivered",
        "fee_charged_without_fee": "fee_charged",
        "handover_without_block": "handover",
    }.get(kind)


def lay_out(
    r: random.Random,
    records: list[bytes],
    types: list[str] | None,
    ts: list[int],
    duplicates: float,
    late: float,
    invalid: float,
    kinds: tuple[str, ...],
    mangle: Any,
) -> tuple[list[bytes], dict[str, Any]]:
    """The lines of one file, in arrival order, and their statistics."""
    n = len(records)
    lines: list[bytes] = list(records)
    keys: list[float] = []
    late_lines = 0
    for t in ts:
        dl = _delay(r, late)
        late_lines += dl >= LATE_S
        keys.append(t + dl)
    kind_of: dict[int, str] = {}
    dup_lines = 0
    for i in range(n):
        if r.random() < duplicates:
            dl = _delay(r, late)
            late_lines += dl >= LATE_S
            lines.append(lines[i])
            keys.append(ts[i] + dl + r.uniform(1, 900))
            dup_lines += 1
    n_invalid = max(1, round(invalid * n)) if invalid > 0 and n else 0
    by_type: dict[str, list[int]] = {}
    if types is not None:
        for i, stype in enumerate(types):
            by_type.setdefault(stype, []).append(i)
    order = list(kinds)
    r.shuffle(order)
    for j in range(n_invalid):
        kind = order[j % len(order)]
        need = _needs(kind)
        if need is not None and not by_type.get(need):
            kind = "missing_field"
            need = None
        src = r.choice(by_type[need]) if need is not None else r.randrange(n)
        kind_of[len(lines)] = kind
        lines.append(mangle(r, kind, records[src], ts[src]))
        keys.append(ts[src] + _delay(r, late))
    perm = sorted(range(len(lines)), key=keys.__getitem__)
    out = [lines[i] for i in perm]
    invalid_lines: list[int] = []
    invalid_kinds: dict[str, int] = {}
    for pos, i in enumerate(perm, start=1):
        bad = kind_of.get(i)
        if bad is not None:
            invalid_lines.append(pos)
            invalid_kinds[bad] = invalid_kinds.get(bad, 0) + 1
    stats = {
        "lines": len(out),
        "distinct": n,
        "duplicate_lines": dup_lines,
        "late_lines": late_lines,
        "invalid_lines": len(invalid_lines),
        "invalid_line_numbers": invalid_lines,
        "invalid_by_kind": dict(sorted(invalid_kinds.items())),
    }
    return out, stats


def lay_out_all(
    g: Generated, seed: int, duplicates: float, late: float, invalid: float
) -> tuple[list[bytes], dict[str, Any], list[bytes], dict[str, Any]]:
    r = random.Random(seed * 104729 + 3)
    scans, s_stats = lay_out(
        r,
        g.scans,
        g.scan_types,
        g.scan_ts,
        duplicates,
        late,
        invalid,
        SCAN_INVALID_KINDS,
        _mangle_scan,
    )
    complaints, c_stats = lay_out(
        r,
        g.complaints,
        None,
        g.complaint_ts,
        duplicates / 2,
        late,
        invalid,
        COMPLAINT_INVALID_KINDS,
        _mangle_complaint,
    )
    return scans, s_stats, complaints, c_stats
