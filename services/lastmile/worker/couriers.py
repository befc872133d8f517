"""The courier side of the bulk sign-off rule: a courier's recent sign-offs, and windows."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from lastmile.domain.bulk import Signoff, courier_bulk_findings
from lastmile.domain.findings import Finding
from lastmile.domain.rules import RuleConfig

# (sign-off, town, remote, contract carrier): what a violation needs besides the sign-off
Record = tuple[Signoff, str, bool, str]


def merge_signoffs(old: list[Record], new: list[Record], config: RuleConfig) -> list[Record]:
    """A courier's sign-offs, distinct by event id, sorted, pruned to the retention period."""
    merged = {rec[0].event_id: rec for rec in old}
    for rec in new:
        merged.setdefault(rec[0].event_id, rec)
    records = sorted(merged.values(), key=lambda r: (r[0].ts, r[0].event_id))
    horizon = records[-1][0].ts - config.retention_days * 86400
    return [r for r in records if r[0].ts >= horizon]


def bulk_near(
    records: list[Record], new: list[Record], config: RuleConfig
) -> list[tuple[Finding, Record]]:
    """Bulk findings in the windows that can hold a new sign-off (± the window length).

    A window that qualifies now and did not before must contain a new sign-off, so it lies
    within one window length of one; older windows were judged when their sign-offs came.
    """
    times = [r[0].ts for r in records]
    span = config.bulk_window_s
    by_parcel: dict[str, tuple[Finding, Record]] = {}
    seen: set[tuple[int, int]] = set()
    for rec in new:
        lo = bisect_left(times, rec[0].ts - span)
        hi = bisect_right(times, rec[0].ts + span)
        if (lo, hi) in seen:
            continue
        seen.add((lo, hi))
        window = records[lo:hi]
        meta: dict[str, Any] = {r[0].parcel_id: r for r in window}
        for parcel_id, finding in courier_bulk_findings([r[0] for r in window], config).items():
            by_parcel.setdefault(parcel_id, (finding, meta[parcel_id]))
    return list(by_parcel.values())
