"""The couriers step: a courier's new sign-offs against its recent ones → bulk findings.

Nobody signs for parcels in three villages within a minute (contract §5, bulk_signoff).
Sign-offs arrive repartitioned by courier; the state per courier is its sign-offs within
the retention period, distinct by event id and sorted by time. Only windows within one
window length of a new sign-off can have started to qualify, so only those are judged.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from lastmile.domain.bulk import courier_bulk_findings
from lastmile.domain.facts import INBOUND, Destination
from lastmile.domain.findings import Finding
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.records import Candidate, SignoffRecord

CourierLookup = Callable[[str, int], list[SignoffRecord] | None]  # courier, partition


@dataclass
class CourierEffects:
    partition: int
    states: dict[str, list[SignoffRecord]] = field(default_factory=dict)  # courier → records
    candidates: list[Candidate] = field(default_factory=list)


def step_couriers(
    incoming: Mapping[str, Sequence[SignoffRecord]],
    stored: CourierLookup,
    network: Network,
    config: RuleConfig,
    topic: str,
    partition: int,
) -> CourierEffects:
    """Merge each courier's new sign-offs into its stored ones and judge the near windows."""
    fx = CourierEffects(partition)
    source = f"{topic}:{partition}"
    for courier, new in incoming.items():
        records = merge_signoffs(stored(courier, partition) or [], new, config)
        fx.states[courier] = records
        for finding, rec in bulk_near(records, new, config):
            dest = Destination(network.village(rec.signoff.village), None, None, INBOUND)
            fx.candidates.append(Candidate(finding, dest, rec.contract_carrier, source))
    return fx


def merge_signoffs(
    old: Sequence[SignoffRecord], new: Sequence[SignoffRecord], config: RuleConfig
) -> list[SignoffRecord]:
    """A courier's sign-offs, distinct by event id, sorted, pruned to the retention period."""
    merged = {r.signoff.event_id: r for r in old}
    for r in new:
        merged.setdefault(r.signoff.event_id, r)
    records = sorted(merged.values(), key=lambda r: (r.signoff.ts, r.signoff.event_id))
    horizon = records[-1].signoff.ts - config.retention_days * 86400
    return [r for r in records if r.signoff.ts >= horizon]


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
