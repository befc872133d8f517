"""The watchdog: every few seconds, look at Kafka, the input and the violation log.

It gathers an ``Observation`` (health.py judges it), sets the health gauges, and when the
worker is stalled it stops it with a non-zero exit for its supervisor (ADR 0012): first as
SIGTERM does (a clean stop; the reason is remembered, so ``lastmile worker`` exits 1 naming
it), and if that has not ended the process in its grace (``exit_grace``), at once
(``os._exit(1)``; safe: every effect is idempotent under the violation log, as after a
SIGKILL).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lastmile.metrics import Metrics
from lastmile.worker.gauges import input_position
from lastmile.worker.health import (
    CHECKS,
    PROBE_INTERVAL_S,
    PROBE_TIMEOUT_S,
    Limits,
    Observation,
    WorkerHealth,
)
from lastmile.worker.violation_log import ViolationLog

log = logging.getLogger(__name__)

EXIT_GRACE_S = 30.0  # a stalled worker that has not stopped cleanly by then exits at once
# ... when the broker did not answer: its clean stop can neither commit nor leave the group,
# and on a link that drops packets it hung for the whole 30 s (docs/reliability.md)
EXIT_GRACE_BROKER_GONE_S = 5.0
EXIT_STATUS = 1


class WorkerStalled(RuntimeError):
    """The worker could not make progress for LASTMILE_STALL_TIMEOUT_S."""

    def __init__(self, reason: str, broker_gone: bool = False) -> None:
        super().__init__(reason)
        self.broker_gone = broker_gone  # the broker did not answer the last probe


def exit_grace(stalled: WorkerStalled) -> float:
    """How long a stalled worker's clean stop may take before the process ends at once."""
    return EXIT_GRACE_BROKER_GONE_S if stalled.broker_gone else EXIT_GRACE_S


class Watchdog:
    def __init__(
        self,
        app: Any,
        health: WorkerHealth,
        violation_log: ViolationLog,
        metrics: Metrics,
        topics: list[str],
        ready: asyncio.Event,
        on_stall: Callable[[WorkerStalled], Awaitable[None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.health = health
        self.log = violation_log
        self.metrics = metrics
        self.topics = topics
        self.ready = ready
        self.on_stall = on_stall
        self.clock = clock
        self.stalled: WorkerStalled | None = None

    async def probe_kafka(self) -> tuple[str | None, int | None]:
        """(error or None, violation-log backlog); asks the broker, bounded."""
        if not self.ready.is_set():  # the log's consumer is not running yet
            return None, None
        try:
            backlog = await asyncio.wait_for(self.log.backlog(), PROBE_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return type(exc).__name__, None
        return None, backlog

    async def tick(self) -> None:
        if self.stalled is not None:
            return
        kafka_error, backlog = await self.probe_kafka()
        position = input_position(self.app, self.topics)
        lag = None if position is None else sum(position[0].values())
        committed = () if position is None else position[1]
        obs = Observation(
            at=self.clock(),
            ready=self.ready.is_set(),
            kafka_error=kafka_error,
            lag=lag,
            log_behind=backlog,
            committed=committed,
            recovering=bool(getattr(self.app, "in_recovery", False)),
        )
        reason = self.health.observe(obs)
        self.publish(obs)
        if reason is not None:
            self.stalled = WorkerStalled(reason, broker_gone=kafka_error is not None)
            log.error("worker stalled (%s): exiting for the supervisor to restart it", reason)
            await self.on_stall(self.stalled)

    def report(self, **extra: object) -> dict[str, object]:
        """The body of ``/healthz``: ready, healthy, the problems and each part's state."""
        body: dict[str, object] = {"ready": self.ready.is_set()}
        body.update(self.health.as_dict())
        body["redis"] = self.health.redis.as_dict()
        body.update(extra)
        return body

    def publish(self, obs: Observation) -> None:
        m = self.metrics
        m.kafka_up.set(0 if obs.kafka_error else 1)
        if obs.log_behind is not None:
            m.violation_log_behind.set(obs.log_behind)
        failing = self.health.current_problems()
        for check in CHECKS:
            m.health_check.labels(check).set(0 if check in failing else 1)


def exit_when_stalled(
    remember: Callable[[BaseException], None],
) -> Callable[[WorkerStalled], Awaitable[None]]:
    """An ``on_stall`` that stops the worker as SIGTERM does (``lastmile worker`` then exits 1
    naming the reason), with a backstop should that stop hang."""

    async def on_stall(exc: WorkerStalled) -> None:
        remember(exc)
        backstop = threading.Timer(exit_grace(exc), os._exit, (EXIT_STATUS,))
        backstop.daemon = True
        backstop.start()
        os.kill(os.getpid(), signal.SIGTERM)  # the worker's own clean stop

    return on_stall


def build_watchdog(worker: Any, topics: list[str]) -> Watchdog:
    """The watchdog of a built worker (worker/app.py), with its limits from the settings."""
    settings = worker.settings
    limits = Limits(max_lag=settings.health_max_lag, stall_s=settings.stall_timeout_s)
    health = WorkerHealth(limits, worker.health, started_at=time.time())

    def remember(exc: BaseException) -> None:
        worker.fatal = worker.fatal or exc  # ``lastmile worker`` exits 1 naming it

    return Watchdog(
        worker.app,
        health,
        worker.log,
        worker.metrics,
        topics,
        worker.ready,
        exit_when_stalled(remember),
    )


__all__ = ["PROBE_INTERVAL_S", "Watchdog", "WorkerStalled", "build_watchdog"]
