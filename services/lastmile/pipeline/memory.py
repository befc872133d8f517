"""In-memory adapters: for the behaviour tests and the pipeline benchmark.

``MemoryOutbox`` can be told not to acknowledge (``acknowledge=False``), which stands in
for a broker that never answers: the sends stay pending futures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lastmile.domain.path import ParcelPath
from lastmile.pipeline.couriers import CourierEffects, CourierIndex
from lastmile.pipeline.effects import MetricDeltas, ReadModelWrites
from lastmile.pipeline.ports import unstage
from lastmile.pipeline.records import DeadLetter, DueHold, HoldKey, SignoffRecord


@dataclass
class MemoryGate:
    ids: set[str] = field(default_factory=set)

    def seen(self, violation_id: str) -> bool:
        return violation_id in self.ids

    def claim(self, violation_id: str) -> bool:
        if violation_id in self.ids:
            return False
        self.ids.add(violation_id)
        return True

    def unclaim(self, violation_id: str) -> None:
        self.ids.discard(violation_id)


@dataclass
class MemoryOutbox:
    acknowledge: bool = True
    violations: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    sent_signoffs: dict[str, list[SignoffRecord]] = field(default_factory=dict)
    messages: int = 0  # messages handed over
    pending: list[asyncio.Future[None]] = field(default_factory=list)

    def _ack(self) -> asyncio.Future[None]:
        self.messages += 1
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.acknowledge:
            fut.set_result(None)
        else:
            self.pending.append(fut)
        return fut

    async def violation(self, violation: dict[str, Any], source: str) -> asyncio.Future[None]:
        self.violations.append(violation)
        return self._ack()

    async def dead_letter(self, letter: DeadLetter) -> asyncio.Future[None]:
        self.dead_letters.append(letter)
        return self._ack()

    async def signoffs(self, courier_id: str, records: list[SignoffRecord]) -> asyncio.Future[None]:
        self.sent_signoffs.setdefault(courier_id, []).extend(records)
        return self._ack()

    async def send(self) -> None:
        return None  # each message was "handed over" as it was queued


@dataclass
class MemoryHolds:
    hold_s: float = 5.0
    items: dict[HoldKey, float] = field(default_factory=dict)  # key → release time

    async def hold(self, keys: Iterable[HoldKey], now: float) -> None:
        for k in keys:
            self.items[k] = max(self.items.get(k, float("-inf")), now + self.hold_s)

    async def due(self, now: float) -> list[DueHold]:
        return sorted(DueHold(k, at) for k, at in self.items.items() if at <= now)

    async def release(self, due: Iterable[DueHold]) -> None:
        for d in due:
            if self.items.get(d.key) == d.release_at:
                del self.items[d.key]


@dataclass
class MemoryReadModel:
    batches: list[ReadModelWrites] = field(default_factory=list)

    async def write(self, writes: ReadModelWrites) -> None:
        self.batches.append(writes)


@dataclass
class MemoryParcels:
    paths: dict[str, ParcelPath] = field(default_factory=dict)
    staged: dict[str, ParcelPath] = field(default_factory=dict)

    def get(self, parcel_id: str, partition: int = 0) -> ParcelPath | None:
        staged = self.staged.get(parcel_id)
        return staged if staged is not None else self.paths.get(parcel_id)

    def stage(self, paths: Mapping[str, ParcelPath]) -> None:
        self.staged.update(paths)

    def put_many(self, partition: int, paths: Mapping[str, ParcelPath]) -> None:
        self.paths.update(paths)
        unstage(self.staged, paths)

    def delete_many(self, partition: int, parcel_ids: Iterable[str]) -> None:
        for pid in parcel_ids:
            if pid not in self.staged:
                self.paths.pop(pid, None)

    async def hand_over(self) -> Awaitable[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)  # memory is as durable as it gets here
        return done


@dataclass
class MemoryCouriers:
    hours: dict[str, list[SignoffRecord]] = field(default_factory=dict)  # hour key → records
    indexes: dict[str, CourierIndex] = field(default_factory=dict)

    def index(self, courier: str, partition: int = 0) -> tuple[CourierIndex, list[SignoffRecord]]:
        return self.indexes.get(courier, CourierIndex()), []

    def records(self, key: str, partition: int = 0) -> list[SignoffRecord] | None:
        return self.hours.get(key)

    def put_many(self, fx: CourierEffects) -> None:
        self.hours.update(fx.states)
        self.indexes.update(fx.indexes)
        for key in fx.deleted:
            self.hours.pop(key, None)

    async def flush(self) -> None:
        return None


@dataclass
class MemoryMetrics:
    applied: list[MetricDeltas] = field(default_factory=list)

    steps: list[tuple[str, float]] = field(default_factory=list)

    def apply(self, deltas: MetricDeltas) -> None:
        self.applied.append(deltas)

    def step(self, step: str, seconds: float) -> None:
        self.steps.append((step, seconds))
