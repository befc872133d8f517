"""Typed values that travel between the pipeline's steps and its adapters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from lastmile.domain.bulk import Signoff
from lastmile.domain.facts import Destination
from lastmile.domain.findings import Finding

SCANS, COMPLAINTS = "scans", "complaints"  # the two input kinds


class RawMessage(NamedTuple):
    """An input record as the engine hands it over."""

    kind: str  # SCANS or COMPLAINTS
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A finding ready to become a violation, if the gate has not seen it yet."""

    finding: Finding
    dest: Destination
    contract_carrier: str
    source: str  # "topic:partition" of the input that revealed it

    @property
    def violation_id(self) -> str:
        return self.finding.violation_id


class HoldKey(NamedTuple):
    """A parcel with a late-sensitive finding waiting out its hold."""

    partition: int
    parcel_id: str


class DueHold(NamedTuple):
    """A hold whose release time has come, with that time as read.

    Releasing removes the hold only if its time is still this one: a late-sensitive event
    processed meanwhile pushed it back, and the parcel must be judged again after it.
    """

    key: HoldKey
    release_at: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An invalid input message, kept byte for byte with the reason it was refused."""

    kind: str
    key: bytes | None
    value: bytes
    reason: str
    detail: str
    origin: str  # "topic:partition:offset": consumers deduplicate on it (at-least-once)


@dataclass(frozen=True, slots=True)
class SignoffRecord:
    """One inbound sign-off, with what a bulk sign-off violation needs besides it."""

    signoff: Signoff
    town: str
    remote: bool
    contract_carrier: str

    @property
    def courier_id(self) -> str:
        return self.signoff.courier_id
