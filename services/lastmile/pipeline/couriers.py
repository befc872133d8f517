"""The couriers step: a courier's new sign-offs against its recent ones → bulk findings.

Nobody signs for parcels in three villages within a minute (contract §5, bulk_signoff).
Sign-offs arrive repartitioned by courier. A courier's state is its sign-offs within the
retention period, distinct by event id, kept in **hour buckets** (one stored value per
courier and hour, plus a small index of the courier's hours): only windows within one
window length of a new sign-off can have started to qualify, so a batch reads and writes
only the hours around its new sign-offs, whatever the courier did in the other 30 days.
(The first layout kept a courier's 30 days in one value, decoded and rewritten whole for
every batch: its cost grew with the courier's history.) Hours that leave the retention
period are deleted when the courier's index is next written.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from lastmile.domain.bulk import courier_bulk_findings
from lastmile.domain.facts import INBOUND, Destination
from lastmile.domain.findings import Finding
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.records import Candidate, SignoffRecord

HOUR_S = 3600


def hour_of(ts: float) -> int:
    return int(ts // HOUR_S)


def hour_key(courier: str, hour: int) -> str:
    """The stored key of a courier's hour (the courier's own key holds its index)."""
    return f"{courier}@{hour}"


class CourierIndex(NamedTuple):
    """Which hours of a courier are stored, and the time of its newest sign-off."""

    hours: tuple[int, ...] = ()
    newest: float = float("-inf")


class CourierReader(Protocol):
    def index(self, courier: str, partition: int) -> tuple[CourierIndex, list[SignoffRecord]]:
        """The courier's index, and sign-offs still stored in the first (whole) layout."""
        ...

    def records(self, key: str, partition: int) -> list[SignoffRecord] | None:
        """The sign-offs of one stored hour (``hour_key``)."""
        ...


@dataclass
class CourierEffects:
    partition: int
    states: dict[str, list[SignoffRecord]] = field(default_factory=dict)  # hour key → records
    indexes: dict[str, CourierIndex] = field(default_factory=dict)  # courier → its index
    deleted: list[str] = field(default_factory=list)  # hour keys past the retention period
    candidates: list[Candidate] = field(default_factory=list)


def step_couriers(
    incoming: Mapping[str, Sequence[SignoffRecord]],
    stored: CourierReader,
    network: Network,
    config: RuleConfig,
    topic: str,
    partition: int,
) -> CourierEffects:
    """Merge each courier's new sign-offs into its hours and judge the near windows."""
    fx = CourierEffects(partition)
    source = f"{topic}:{partition}"
    for courier, new in incoming.items():
        for finding, rec in _courier(fx, courier, new, stored, config, partition):
            dest = Destination(network.village(rec.signoff.village), None, None, INBOUND)
            fx.candidates.append(Candidate(finding, dest, rec.contract_carrier, source))
    return fx


def _courier(
    fx: CourierEffects,
    courier: str,
    new: Sequence[SignoffRecord],
    stored: CourierReader,
    config: RuleConfig,
    partition: int,
) -> list[tuple[Finding, SignoffRecord]]:
    before, legacy = stored.index(courier, partition)
    arriving = [*legacy, *new]
    newest = max(before.newest, *(r.signoff.ts for r in arriving))
    horizon = newest - config.retention_days * 86400  # older sign-offs are forgotten
    span = config.bulk_window_s
    known = set(before.hours)
    near = {
        h
        for r in new
        for h in range(hour_of(r.signoff.ts - span), hour_of(r.signoff.ts + span) + 1)
        if h in known
    }
    by_hour: dict[int, list[SignoffRecord]] = defaultdict(list)
    for r in arriving:
        by_hour[hour_of(r.signoff.ts)].append(r)
    held = {
        h: stored.records(hour_key(courier, h), partition) or []
        for h in near | (known & set(by_hour))
    }
    oldest = hour_of(horizon)
    for h, add in by_hour.items():
        if h < oldest:
            continue  # past the retention period on arrival: forgotten at once
        old = held.get(h, [])
        merged = merge_signoffs(old, add)
        if len(merged) != len(old):
            fx.states[hour_key(courier, h)] = merged
        held[h] = merged
    hours = sorted(h for h in known | set(by_hour) if h >= oldest)
    fx.deleted.extend(hour_key(courier, h) for h in known if h < oldest)
    index = CourierIndex(tuple(hours), newest)
    if index != before or legacy:
        fx.indexes[courier] = index
    window = [r for h in sorted(held) for r in held[h] if r.signoff.ts >= horizon]
    return bulk_near(window, [r for r in new if r.signoff.ts >= horizon], config)


def merge_signoffs(
    old: Sequence[SignoffRecord], new: Sequence[SignoffRecord]
) -> list[SignoffRecord]:
    """Sign-offs distinct by event id, sorted by time."""
    merged = {r.signoff.event_id: r for r in old}
    for r in new:
        merged.setdefault(r.signoff.event_id, r)
    return sorted(merged.values(), key=lambda r: (r.signoff.ts, r.signoff.event_id))


def bulk_near(
    records: Sequence[SignoffRecord], new: Sequence[SignoffRecord], config: RuleConfig
) -> list[tuple[Finding, SignoffRecord]]:
    """Bulk findings in the windows that can hold a new sign-off (± the window length).

    A window that qualifies now and did not before must contain a new sign-off, so it lies
    within one window length of one; older windows were judged when their sign-offs came.
    """
    times = [r.signoff.ts for r in records]
    span = config.bulk_window_s
    by_parcel: dict[str, tuple[Finding, SignoffRecord]] = {}
    seen: set[tuple[int, int]] = set()
    for rec in new:
        lo = bisect_left(times, rec.signoff.ts - span)
        hi = bisect_right(times, rec.signoff.ts + span)
        if (lo, hi) in seen:
            continue
        seen.add((lo, hi))
        window = records[lo:hi]
        meta = {r.signoff.parcel_id: r for r in window}
        found = courier_bulk_findings([r.signoff for r in window], config)
        for parcel_id, finding in found.items():
            by_parcel.setdefault(parcel_id, (finding, meta[parcel_id]))
    return list(by_parcel.values())
