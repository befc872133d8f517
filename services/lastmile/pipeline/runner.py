"""Applying a batch's Effects through the ports, in the order ADR 0001 fixes.

  ``begin``:
  1. dead letters and sign-offs are queued for the producer
  2. violations not held pass the gate and are queued; all of 1-2 are handed over at once
  3. holds and read-model writes go to Redis (waiting while Redis is down), after the
     previous batch's read-model writes (a parcel's timeline is overwritten in order)
  4. the batch's paths are staged: the next batch folds on them
  ``finish``:
  5. the broker acknowledges everything of 1-2 and Redis everything of 3 (one wait)
  6. only then the parcels' paths are stored and handed to the changelog (the batch's
     "done" marker); ``finish`` returns what resolves once they are durable
  7. metrics

Because the stored path is written last, an event found in it has had every effect made
durable, and a replayed batch has nothing left to repeat. A held violation is published,
acknowledged, and only then is its hold removed (``release_due``). ``apply`` is
``begin``, ``finish`` and the wait until durable; the worker begins a batch while the
previous one finishes (at most two under way; a batch stores its paths only once the one
before it is durable, and is acked once its own are: ADR 0005), which hides the wait of
step 5 behind the next batch's work.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from lastmile.domain.findings import to_violation
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.couriers import CourierEffects
from lastmile.pipeline.effects import Effects
from lastmile.pipeline.held import judge_held
from lastmile.pipeline.ports import (
    CourierStore,
    HoldStore,
    MetricsSink,
    Outbox,
    ParcelStore,
    ReadModelWriter,
    ViolationGate,
)
from lastmile.pipeline.records import Candidate, DueHold, SignoffRecord

T = TypeVar("T")


class Retry(Protocol):
    """Runs a call against a dependency that may be down (Redis) until it answers."""

    def __call__(self, operation: str, call: Callable[[], Awaitable[T]]) -> Awaitable[T]: ...


async def once(operation: str, call: Callable[[], Awaitable[T]]) -> T:
    """No retry: for in-memory adapters."""
    return await call()


class Crash(Protocol):
    def __call__(self, point: str) -> None: ...


def no_faults(point: str) -> None:
    return None


@dataclass
class Ports:
    gate: ViolationGate
    outbox: Outbox
    holds: HoldStore
    read_model: ReadModelWriter
    parcels: ParcelStore
    couriers: CourierStore
    metrics: MetricsSink
    clock: Callable[[], datetime]  # detected_at of violations, and hold times
    retry: Retry = once
    fault: Crash = no_faults
    elapsed: Callable[[], float] = lambda: 0.0  # a monotonic clock: how long steps wait


@dataclass
class Applying:
    """A batch whose effects are under way: sent, its Redis writes started."""

    effects: Effects
    waits: list[Awaitable[Any]]


class Runner:
    def __init__(self, ports: Ports, network: Network, config: RuleConfig) -> None:
        self.ports = ports
        self.network = network
        self.config = config
        self._redis_writes: asyncio.Future[Any] | None = None  # the last batch's

    async def apply(self, fx: Effects) -> None:
        await (await self.finish(await self.begin(fx)))

    async def begin(self, fx: Effects) -> Applying:
        """Steps 1-4: hand everything over; nothing is awaited but the handing over."""
        p = self.ports
        waits: list[Awaitable[Any]] = [await p.outbox.dead_letter(d) for d in fx.dead_letters]
        waits.extend(await self._send_signoffs(fx.signoffs))
        published = await self._publish(fx.candidates)
        waits.extend(ack for _, ack in published)
        await p.outbox.send()
        holds = [k for k, ids in fx.holds.items() if not all(p.gate.seen(v) for v in ids)]
        if holds or fx.read_model:
            now = p.clock().timestamp()
            before = self._redis_writes
            writes = asyncio.ensure_future(self._redis(before, fx, holds, now))
            self._redis_writes = writes
            waits.append(writes)
        for paths in fx.states.values():
            p.parcels.stage(paths)
        return Applying(fx, waits)

    async def finish(self, applying: Applying) -> Awaitable[None]:
        """Steps 5-7: wait for the broker and Redis, then store the paths (done). Returns
        once they are handed over, with what resolves once they are durable: nothing of
        this batch may be acked before that."""
        p, fx = self.ports, applying.effects
        started = p.elapsed()
        await asyncio.gather(*applying.waits)  # Redis and the broker at once
        acked = p.elapsed()
        for partition, paths in fx.states.items():
            p.parcels.put_many(partition, paths)
        for partition, gone in fx.expired.items():
            p.parcels.delete_many(partition, gone)
        durable = await p.parcels.hand_over()
        p.metrics.step("acks", acked - started)
        p.metrics.apply(fx.metrics)

        async def stored() -> None:
            await durable
            p.metrics.step("store", p.elapsed() - acked)

        return asyncio.ensure_future(stored())

    async def _redis(
        self, before: asyncio.Future[Any] | None, fx: Effects, holds: list[Any], now: float
    ) -> None:
        p = self.ports
        if before is not None:  # in batch order; its failure is its own batch's to report
            await asyncio.wait([before])
        writes: list[Awaitable[Any]] = []
        if holds:
            writes.append(p.retry("hold", lambda: p.holds.hold(holds, now)))
        if fx.read_model:
            writes.append(p.retry("project", lambda: p.read_model.write(fx.read_model)))
        await asyncio.gather(*writes)

    async def apply_couriers(self, fx: CourierEffects) -> None:
        published = await self._publish(fx.candidates)
        await self.ports.outbox.send()
        await asyncio.gather(*(ack for _, ack in published))
        self.ports.couriers.put_many(fx)
        await self.ports.couriers.flush()

    async def release_due(
        self, due: list[DueHold], topic: str, owned: Callable[[], bool] = lambda: True
    ) -> int:
        """Publish what the due holds still stand for, wait for the broker, then release.

        Returns the number of violations published. If the broker does not acknowledge,
        the holds stay (and the claims are dropped) for the next attempt. ``owned`` says
        whether the paths read are still this worker's, complete and current (no rebalance
        since the due holds were read, none under way); it is asked before judging and
        again before releasing, and a hold is released only if both answers were yes: a
        path read while a new owner's store is still recovering may be older than the
        hold, and releasing on it would lose the finding the hold stands for.
        """
        p = self.ports
        if not due or not owned():
            return 0
        keys = [d.key for d in due]
        candidates, judged = judge_held(keys, p.parcels.get, self.network, self.config, topic)
        published = await self._publish(candidates)
        await p.outbox.send()
        p.fault("hold-published")
        try:
            await asyncio.gather(*(ack for _, ack in published))
        except Exception:
            for vid, _ in published:
                p.gate.unclaim(vid)
            raise
        if not owned():  # the partitions moved while publishing: the next owner judges again
            return len(published)
        done = set(judged)
        release = [d for d in due if d.key in done]
        await p.retry("release_holds", lambda: p.holds.release(release))
        p.fault("hold-released")
        return len(published)

    async def _publish(self, candidates: Iterable[Candidate]) -> list[tuple[str, Awaitable[Any]]]:
        """The idempotent gate: hand over each violation ``violations.v1`` does not hold yet."""
        p = self.ports
        out: list[tuple[str, Awaitable[Any]]] = []
        now: datetime | None = None
        for c in candidates:
            if not p.gate.claim(c.violation_id):
                continue
            now = now or p.clock()
            v = to_violation(c.finding, c.dest, c.contract_carrier, self.config, now)
            out.append((c.violation_id, await p.outbox.violation(v, c.source)))
        return out

    async def _send_signoffs(self, records: list[SignoffRecord]) -> list[Awaitable[Any]]:
        by_courier: dict[str, list[SignoffRecord]] = defaultdict(list)
        for r in records:
            by_courier[r.courier_id].append(r)
        return [await self.ports.outbox.signoffs(c, rs) for c, rs in by_courier.items()]
