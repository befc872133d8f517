"""Analysis of parcels: the one place that turns paths into findings and violations.

``analyse_parcel`` is what the streaming agents call for each updated parcel;
``Detection`` is the offline driver used by ``lastmile detect`` and by replays. Both go
through the same functions, so the live pipeline and the offline command agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from lastmile.domain.bulk import Signoff, bulk_findings
from lastmile.domain.detectors import ParcelContext, can_break_a_rule, detect_parcel
from lastmile.domain.events import Event
from lastmile.domain.facts import INBOUND, Destination, contract_carrier, destination_of
from lastmile.domain.findings import Finding, to_violation
from lastmile.domain.network import Network
from lastmile.domain.path import ParcelPath, path_from_events
from lastmile.domain.rules import RuleConfig


class ParcelAnalysis(NamedTuple):
    path: ParcelPath
    dest: Destination
    contract_carrier: str | None
    findings: tuple[Finding, ...]
    signoffs: tuple[Signoff, ...]  # for the cross-parcel bulk rule

    @property
    def inbound(self) -> bool:
        return self.dest.direction == INBOUND

    def violation(
        self, finding: Finding, config: RuleConfig, detected_at: datetime
    ) -> dict[str, Any]:
        return to_violation(
            finding, self.dest, self.contract_carrier or finding.carrier, config, detected_at
        )


_new = tuple.__new__  # a NamedTuple's own __new__ costs a Python call per record


def analyse_parcel(path: ParcelPath, network: Network, config: RuleConfig) -> ParcelAnalysis:
    """Findings of every per-parcel rule, and the sign-offs the bulk rule needs."""
    dest = destination_of(path, network)
    cc = contract_carrier(path)
    if dest.direction != INBOUND or dest.village is None or not can_break_a_rule(path):
        return _new(ParcelAnalysis, (path, dest, cc, (), ()))  # type: ignore[no-any-return]
    delivered = tuple(s for s in path.scans if s.type == "delivered")
    ctx = ParcelContext(path, network, config, dest, dest.village, delivered)
    signoffs = tuple(
        Signoff(
            d.ts, d.event_id, d.courier_id, d.parcel_id, dest.village.code, d.carrier, d.occurred_at
        )
        for d in delivered
        if d.courier_id is not None
    )
    return ParcelAnalysis(path, dest, cc, tuple(detect_parcel(ctx)), signoffs)


@dataclass
class Detection:
    """Offline detection over a set of events (any order, repeats allowed)."""

    network: Network
    config: RuleConfig = field(default_factory=RuleConfig)
    _events: dict[str, list[Event]] = field(default_factory=dict)

    def add(self, event: Event) -> None:
        bucket = self._events.get(event.parcel_id)
        if bucket is None:
            self._events[event.parcel_id] = [event]
        else:
            bucket.append(event)

    def add_all(self, events: Iterable[Event]) -> None:
        for e in events:
            self.add(e)

    @property
    def parcel_count(self) -> int:
        return len(self._events)

    def analyses(self) -> list[ParcelAnalysis]:
        """Every parcel's analysis, in parcel-id order."""
        return [
            analyse_parcel(path_from_events(pid, self._events[pid]), self.network, self.config)
            for pid in sorted(self._events)
        ]

    def violations(
        self, detected_at: datetime, analyses: list[ParcelAnalysis] | None = None
    ) -> list[dict[str, Any]]:
        """Every violation, once, ordered by (occurred_at, violation_id)."""
        analyses = self.analyses() if analyses is None else analyses
        by_parcel = {a.path.parcel_id: a for a in analyses}
        out: list[tuple[Finding, ParcelAnalysis]] = []
        for a in analyses:
            out.extend((f, a) for f in a.findings)
        signoffs = [s for a in analyses for s in a.signoffs]
        for parcel_id, finding in bulk_findings(signoffs, self.config).items():
            out.append((finding, by_parcel[parcel_id]))
        out.sort(key=lambda fa: (fa[0].occurred_at, fa[0].violation_id))
        return [a.violation(f, self.config, detected_at) for f, a in out]


def detect_events(
    events: Iterable[Event], network: Network, config: RuleConfig, detected_at: datetime
) -> list[dict[str, Any]]:
    """Convenience: the violations of a set of events."""
    d = Detection(network, config)
    d.add_all(events)
    return d.violations(detected_at)


__all__ = ["Detection", "ParcelAnalysis", "analyse_parcel", "detect_events"]
