"""A finding is a rule's verdict on a parcel; a violation is a finding made public.

Violation ids are a function of (parcel, type, rule) only, so a replay, a restart or a
second arrival order always yields the same id for the same violation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from hashlib import blake2b
from typing import Any

from lastmile.domain.facts import Destination
from lastmile.domain.rules import RuleConfig


@dataclass(frozen=True, slots=True)
class Finding:
    type: str
    rule: str
    parcel_id: str
    carrier: str
    courier_id: str | None
    occurred_at: datetime
    evidence: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def violation_id(self) -> str:
        return violation_id(self.parcel_id, self.type, self.rule)


# Findings a late event can still change, so the worker holds them a moment before they
# are published: a late ``returned`` scan cancels ``movement_after_signoff``; the complaint
# rules name the carrier of the latest sign-off, which may still be on its way.
HELD_RULES = frozenset(
    {
        ("false_signoff", "movement_after_signoff"),
        ("false_signoff", "complaint"),
        ("wrong_address", "complaint"),
        ("extra_fee", "complaint"),
    }
)


def is_held(finding: Finding) -> bool:
    return (finding.type, finding.rule) in HELD_RULES


def violation_id(parcel_id: str, vtype: str, rule: str) -> str:
    """Deterministic id: the same (parcel, type, rule) always gives the same id."""
    digest = blake2b(f"{parcel_id}\x1f{vtype}\x1f{rule}".encode(), digest_size=12).hexdigest()
    return f"V-{digest}"


def to_violation(
    finding: Finding,
    dest: Destination,
    contract_carrier: str,
    config: RuleConfig,
    detected_at: datetime,
) -> dict[str, Any]:
    """The violation.v1 message for a finding (a plain dict, ready for JSON)."""
    village = dest.village
    remote = village.remote if village is not None else None
    return {
        "violation_id": finding.violation_id,
        "type": finding.type,
        "rule": finding.rule,
        "severity": config.severity_for(finding.type, finding.rule, remote),
        "parcel_id": finding.parcel_id,
        "carrier": finding.carrier,
        "contract_carrier": contract_carrier,
        "courier_id": finding.courier_id,
        "town": village.town if village is not None else None,
        "village": village.code if village is not None else None,
        "remote": remote,
        "occurred_at": finding.occurred_at.isoformat(),
        "detected_at": detected_at.isoformat(),
        "evidence": list(finding.evidence),
        "detail": finding.detail,
    }
