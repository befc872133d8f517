"""What a source yields for one period: counts keyed by town and carrier, before any figure.

Both sources (the Redis rollups and a replay of the log) fill the same structure, so the
figures, the ranking and every renderer are shared and the two sources can be compared
field by field. A ``None`` field means the source cannot give that figure; a ``None``
carrier in a key means the source knows the town but not the carrier.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lastmile.domain.rules import RULES
from lastmile.review.notes import CARRIER_FILTER_ON_DWELL
from lastmile.review.period import Period
from lastmile.review.produce import ProduceCollected

UNKNOWN = "unknown"  # town of a parcel whose destination is not a village of the network
TYPES: tuple[str, ...] = tuple(dict.fromkeys(t for t, _ in RULES.values()))


@dataclass
class ViolationRef:
    """The few fields of a violation.v1 the worst-village and worst-courier lists need."""

    town: str
    carrier: str
    type: str
    rule: str
    village: str | None
    courier_id: str | None

    @classmethod
    def from_doc(cls, v: dict[str, Any]) -> ViolationRef:
        return cls(
            v.get("town") or UNKNOWN,
            v["carrier"],
            v["type"],
            v["rule"],
            v.get("village"),
            v.get("courier_id"),
        )


@dataclass
class Collected:
    source: str  # "replay" or "redis"
    period: Period
    parcels: Counter[tuple[str, str | None]] = field(default_factory=Counter)  # (town, carrier)
    deliveries: Counter[tuple[str, str, bool]] = field(
        default_factory=Counter
    )  # (town, carrier, remote)
    e2e: dict[tuple[str, str], list[float]] = field(
        default_factory=dict
    )  # (town, carrier) -> hours
    violations: Counter[tuple[str, str, str, str]] = field(
        default_factory=Counter
    )  # town, carrier, type, rule
    refs: list[ViolationRef] = field(default_factory=list)
    complaints: Counter[tuple[str, str | None, str]] = field(
        default_factory=Counter
    )  # town, carrier, cat.
    # coverage 通达率 over the coverage window ending with the period; brand fusion likewise
    reached: dict[str, set[str]] = field(default_factory=dict)  # town -> villages reached
    undetermined: dict[str, set[str]] = field(default_factory=dict)  # town -> villages unknown
    brands: dict[str, set[str]] = field(default_factory=dict)  # town -> carriers at the centre
    dwell: dict[tuple[str, str], list[float]] | None = None  # (tier, town) -> hours; None: n/a
    stuck: Counter[tuple[str, str]] | None = None  # (tier, town) -> parcels; None: n/a
    notes: list[dict[str, str]] = field(default_factory=list)  # both editions (notes.py)
    produce: ProduceCollected | None = None  # contract §7 (filtered when the review is built)

    @property
    def empty(self) -> bool:
        return not (self.parcels or self.deliveries or self.violations or self.complaints)

    def restrict(self, town: str | None = None, carrier: str | None = None) -> Collected:
        """The same collection limited to one town and/or one carrier.

        Coverage and brand fusion stay town-level figures (a carrier filter does not apply
        to them); parcels or complaints whose carrier the source does not know are kept
        with a ``None`` carrier so the figures can say "not available".
        """

        def t_ok(t: str) -> bool:
            return town is None or t == town

        def c_ok(c: str | None) -> bool:
            return carrier is None or c is None or c == carrier

        out = Collected(self.source, self.period, notes=list(self.notes), produce=self.produce)
        out.parcels = Counter({k: n for k, n in self.parcels.items() if t_ok(k[0]) and c_ok(k[1])})
        out.deliveries = Counter(
            {k: n for k, n in self.deliveries.items() if t_ok(k[0]) and c_ok(k[1])}
        )
        out.e2e = {k: v for k, v in self.e2e.items() if t_ok(k[0]) and c_ok(k[1])}
        out.violations = Counter(
            {k: n for k, n in self.violations.items() if t_ok(k[0]) and c_ok(k[1])}
        )
        out.refs = [r for r in self.refs if t_ok(r.town) and c_ok(r.carrier)]
        out.complaints = Counter(
            {k: n for k, n in self.complaints.items() if t_ok(k[0]) and c_ok(k[1])}
        )
        out.reached = {t: v for t, v in self.reached.items() if t_ok(t)}
        out.undetermined = {t: v for t, v in self.undetermined.items() if t_ok(t)}
        out.brands = {t: v for t, v in self.brands.items() if t_ok(t)}
        if self.dwell is not None:
            out.dwell = {k: v for k, v in self.dwell.items() if t_ok(k[1])}
        if self.stuck is not None:
            out.stuck = Counter({k: n for k, n in self.stuck.items() if t_ok(k[1])})
        if carrier is not None and (self.dwell is not None or self.stuck is not None):
            out.notes.append(CARRIER_FILTER_ON_DWELL.both())
        return out
