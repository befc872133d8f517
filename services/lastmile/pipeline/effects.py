"""``Effects``: everything one batch asks the adapters to do, as typed values.

The steps build these; ``runner`` applies them in the order ADR 0001 fixes. Read-model
writes and metric deltas are aggregated per batch (one Redis pipeline, one ``inc`` per
label set), so their cost does not grow with repeated keys inside a batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lastmile.domain.path import ParcelPath
from lastmile.pipeline.records import Candidate, DeadLetter, HoldKey, SignoffRecord

if TYPE_CHECKING:
    from lastmile.pipeline.produce import ProduceWrites


@dataclass(frozen=True, slots=True)
class FirstDelivery:
    """An inbound parcel's first sign-off (counted once per parcel in the rollups)."""

    parcel_id: str
    ts: float
    town: str
    carrier: str
    remote: bool
    end_to_end_h: float | None


@dataclass(frozen=True, slots=True)
class ComplaintFiled:
    complaint_id: str
    ts: float
    town: str
    contract_carrier: str
    category: str


@dataclass(frozen=True, slots=True)
class ParcelSeen:
    """A parcel's first scan (the rollup of parcels by first-scan day)."""

    parcel_id: str
    first_ts: float
    town: str
    carrier: str


@dataclass
class ReadModelWrites:
    """What the Redis read models learn from one batch (every write idempotent)."""

    paths: dict[str, ParcelPath] = field(default_factory=dict)  # parcel timelines to store
    parcels_seen: list[ParcelSeen] = field(default_factory=list)
    deliveries: list[FirstDelivery] = field(default_factory=list)
    complaints: list[ComplaintFiled] = field(default_factory=list)
    brands: dict[tuple[str, str], float] = field(default_factory=dict)  # (town, carrier) → ts
    reached: dict[tuple[str, str], float] = field(default_factory=dict)  # (town, village) → ts
    produce: ProduceWrites | None = None  # contract §7 (pipeline/produce.py)
    # timelines of parcels the state dropped (retention, in event time): deleted (ADR 0013)
    expired_paths: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.produce
            or self.paths
            or self.expired_paths
            or self.parcels_seen
            or self.deliveries
            or self.complaints
            or self.brands
            or self.reached
        )


@dataclass
class MetricDeltas:
    """Counts and observations of one batch, applied to Prometheus once per label set."""

    events: Counter[str] = field(default_factory=Counter)  # input topic
    scans: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # type, carrier, tier
    invalid: Counter[tuple[str, str]] = field(default_factory=Counter)  # topic, reason
    complaints: Counter[tuple[str, str]] = field(default_factory=Counter)  # category, town
    deliveries: Counter[tuple[str, str, str]] = field(
        default_factory=Counter
    )  # carrier, town, remote
    within_target: Counter[tuple[str, str]] = field(default_factory=Counter)  # carrier, town
    end_to_end_h: list[tuple[tuple[str, str], float]] = field(default_factory=list)
    dwell_h: list[tuple[str, float]] = field(default_factory=list)  # tier, hours
    event_times: list[float] = field(default_factory=list)  # new scans' event times (lag)
    produce: ProduceWrites | None = None  # contract §7 per-carrier counts


@dataclass
class Effects:
    """One batch's effects, in the order they are made durable (ADR 0001)."""

    dead_letters: list[DeadLetter] = field(default_factory=list)
    # partition → parcel → path to store; written last, as the batch's "done" marker
    states: dict[int, dict[str, ParcelPath]] = field(default_factory=dict)
    expired: dict[int, list[str]] = field(default_factory=dict)  # parcels to drop (retention)
    signoffs: list[SignoffRecord] = field(default_factory=list)  # to repartition by courier
    candidates: list[Candidate] = field(default_factory=list)  # publish unless already out
    # late-sensitive findings, judged again when their hold is over: parcel → violation ids
    holds: dict[HoldKey, list[str]] = field(default_factory=dict)
    read_model: ReadModelWrites = field(default_factory=ReadModelWrites)
    metrics: MetricDeltas = field(default_factory=MetricDeltas)
    duplicates: int = 0
