"""false_signoff/bulk_signoff: the one rule that looks across parcels.

Nobody signs for parcels in three villages within a minute. The state is keyed by
courier: the sign-offs one courier made, as compact records. A window is a set of
sign-offs whose event times span at most ``bulk_window_s``; a window holding
``bulk_min_signoffs`` or more sign-offs bound for ``bulk_min_villages`` or more
villages flags every sign-off in it. Flagging is monotone: more sign-offs can only
flag more, so the answer depends only on the set of sign-offs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from lastmile.domain.findings import Finding
from lastmile.domain.rules import RuleConfig


class Signoff(NamedTuple):
    """One delivered scan of an inbound parcel, as the bulk rule needs it."""

    ts: float
    event_id: str
    courier_id: str
    parcel_id: str
    village: str
    carrier: str
    occurred_at: datetime


class Burst(NamedTuple):
    start: datetime
    end: datetime
    size: int
    villages: int
    event_ids: tuple[str, ...]


def find_bursts(signoffs: Sequence[Signoff], config: RuleConfig) -> dict[str, Burst]:
    """Map each flagged sign-off's event id to the first qualifying window holding it.

    ``signoffs`` are one courier's, sorted by (ts, event_id) and distinct. Each right end
    is paired with its widest window; any qualifying window is inside one of those.
    """
    flagged: dict[str, Burst] = {}
    counts: dict[str, int] = {}
    left = 0
    window = config.bulk_window_s
    need_n, need_v = config.bulk_min_signoffs, config.bulk_min_villages
    for right, s in enumerate(signoffs):
        counts[s.village] = counts.get(s.village, 0) + 1
        while s.ts - signoffs[left].ts > window:
            v = signoffs[left].village
            counts[v] -= 1
            if not counts[v]:
                del counts[v]
            left += 1
        if right - left + 1 >= need_n and len(counts) >= need_v:
            members = signoffs[left : right + 1]
            burst = Burst(
                members[0].occurred_at,
                s.occurred_at,
                len(members),
                len(counts),
                tuple(m.event_id for m in members),
            )
            for m in members:
                flagged.setdefault(m.event_id, burst)
    return flagged


def courier_bulk_findings(signoffs: Iterable[Signoff], config: RuleConfig) -> dict[str, Finding]:
    """One finding per parcel with a sign-off in a qualifying window (its first such sign-off).

    ``signoffs`` are one courier's, in any order, repeats allowed.
    """
    ordered = sorted({s.event_id: s for s in signoffs}.values(), key=lambda s: (s.ts, s.event_id))
    found: dict[str, Finding] = {}
    bursts = find_bursts(ordered, config)
    for s in ordered:
        burst = bursts.get(s.event_id)
        if burst is None or s.parcel_id in found:
            continue
        found[s.parcel_id] = Finding(
            "false_signoff",
            "bulk_signoff",
            s.parcel_id,
            s.carrier,
            s.courier_id,
            s.occurred_at,
            burst.event_ids,
            {
                "burst_size": burst.size,
                "villages": burst.villages,
                "window_s": round((burst.end - burst.start).total_seconds(), 3),
                "window_start": burst.start.isoformat(),
            },
        )
    return found


def bulk_findings(signoffs: Iterable[Signoff], config: RuleConfig) -> dict[str, Finding]:
    """Bulk sign-off findings by parcel over the sign-offs of every courier."""
    by_courier: dict[str, list[Signoff]] = {}
    for s in signoffs:
        by_courier.setdefault(s.courier_id, []).append(s)
    found: dict[str, Finding] = {}
    for courier in sorted(by_courier):
        for parcel_id, finding in courier_bulk_findings(by_courier[courier], config).items():
            # a parcel in bursts of two couriers: keep the earliest sign-off's finding
            old = found.get(parcel_id)
            if old is None or (finding.occurred_at, finding.evidence) < (
                old.occurred_at,
                old.evidence,
            ):
                found[parcel_id] = finding
    return found
