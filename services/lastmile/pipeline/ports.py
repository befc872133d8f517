"""The adapters the pipeline's runner talks to, as Protocols.

The worker hands in Faust, Kafka and Redis adapters; tests and the pipeline benchmark
hand in the in-memory ones of ``memory``. Nothing in the runner knows which.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from typing import Any, Protocol

from lastmile.domain.path import ParcelPath
from lastmile.pipeline.couriers import CourierEffects, CourierReader
from lastmile.pipeline.effects import MetricDeltas, ReadModelWrites
from lastmile.pipeline.records import DeadLetter, DueHold, HoldKey, SignoffRecord


class ViolationGate(Protocol):
    """What ``violations.v1`` already holds (or this worker has already sent)."""

    def seen(self, violation_id: str) -> bool: ...

    def claim(self, violation_id: str) -> bool:
        """True when the id is new (and now claimed); False when it is already out."""
        ...

    def unclaim(self, violation_id: str) -> None:
        """Forget a claim whose publication failed."""
        ...


class Outbox(Protocol):
    """Kafka outputs. Each message is queued and returns an awaitable resolved when the
    broker acknowledges it; ``send`` hands everything queued to the producer."""

    async def violation(self, violation: dict[str, Any], source: str) -> Awaitable[Any]: ...

    async def dead_letter(self, letter: DeadLetter) -> Awaitable[Any]: ...

    async def signoffs(self, courier_id: str, records: list[SignoffRecord]) -> Awaitable[Any]: ...

    async def send(self) -> None: ...


class HoldStore(Protocol):
    async def hold(self, keys: Iterable[HoldKey], now: float) -> None:
        """Hold parcels until ``now`` + the hold; an existing hold moves later, never earlier."""
        ...

    async def due(self, now: float) -> list[DueHold]: ...

    async def release(self, due: Iterable[DueHold]) -> None:
        """Remove each hold whose release time is still the one read by ``due``."""
        ...


class ReadModelWriter(Protocol):
    async def write(self, writes: ReadModelWrites) -> None:
        """Apply one batch's writes (idempotent: a replay changes nothing)."""
        ...


class ParcelStore(Protocol):
    """Parcel paths by parcel id (a changelog-backed table in the worker)."""

    def get(self, parcel_id: str, partition: int) -> ParcelPath | None:
        """The newest path: a staged one if a batch under way has one, else the stored one."""
        ...

    def stage(self, paths: Mapping[str, ParcelPath]) -> None:
        """Paths of a batch whose effects are under way: ``get`` returns them until
        ``put_many`` stores them, so the next batch folds on them meanwhile."""
        ...

    def put_many(self, partition: int, paths: Mapping[str, ParcelPath]) -> None:
        """Store paths (and drop each from the staged ones, unless a later batch staged a
        newer one); they become durable with the next ``hand_over``."""
        ...

    def delete_many(self, partition: int, parcel_ids: Iterable[str]) -> None:
        """Delete expired paths; a parcel a later batch has staged meanwhile is kept."""
        ...

    async def hand_over(self) -> Awaitable[None]:
        """Hand what was stored to durable storage (the changelog's producer), after every
        earlier hand-over; returns what resolves once it is durable. ``get`` returns the
        stored paths meanwhile."""
        ...


def unstage(staged: dict[str, ParcelPath], stored: Mapping[str, ParcelPath]) -> None:
    """For ``ParcelStore`` adapters: forget staged paths now stored, but not a newer one a
    later batch has staged meanwhile."""
    for pid, path in stored.items():
        if staged.get(pid) is path:
            del staged[pid]


class CourierStore(CourierReader, Protocol):
    """Couriers' sign-offs in hour buckets with an index per courier (pipeline.couriers)."""

    def put_many(self, fx: CourierEffects) -> None:
        """Store the changed hours and indexes; delete the hours past the retention."""
        ...

    async def flush(self) -> None:
        """Wait until what was stored is durable."""
        ...


class MetricsSink(Protocol):
    def apply(self, deltas: MetricDeltas) -> None: ...

    def step(self, step: str, seconds: float) -> None:
        """How long a step of a batch took (``acks``: waiting for the broker and Redis;
        ``store``: storing the paths, their changelog acknowledged)."""
        ...
