"""The worker's health: Redis, Kafka, how far behind it is, and whether it moves.

Redis holds only projections and holds, never the truth, so an outage must not stop the
worker: what needs Redis waits (with capped exponential backoff) and resumes by itself,
while ``/healthz`` and ``lastmile_redis_up`` say that Redis is unreachable.

``WorkerHealth`` judges the rest from the watchdog's observations (worker/watchdog.py):
the broker unreachable, input behind by more than LASTMILE_HEALTH_MAX_LAG, the violation
log not caught up, no progress. A worker that cannot make progress for
LASTMILE_STALL_TIMEOUT_S is stalled: it exits non-zero for its supervisor (ADR 0012).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
T = TypeVar("T")

# what counts as "Redis did not answer": redis-py's errors and socket errors under them
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)


class RedisHealth:
    def __init__(self, up: Gauge, errors: Counter) -> None:
        self._up = up
        self._errors = errors
        self.reachable = True
        self.down_since: float | None = None
        self.last_error = ""
        up.set(1)

    def ok(self) -> None:
        if not self.reachable:
            log.warning("Redis reachable again after %.1f s", time.time() - (self.down_since or 0))
        self.reachable, self.down_since, self.last_error = True, None, ""
        self._up.set(1)

    def failed(self, operation: str, exc: BaseException) -> None:
        self._errors.labels(operation).inc()
        if self.reachable:
            log.warning("Redis unreachable (%s: %s); retrying with backoff", operation, exc)
            self.down_since = time.time()
        self.reachable = False
        self.last_error = type(exc).__name__
        self._up.set(0)

    def as_dict(self) -> dict[str, object]:
        return {
            "reachable": self.reachable,
            "down_since": self.down_since,
            "last_error": self.last_error or None,
        }


async def until_ok(
    operation: str,
    call: Callable[[], Awaitable[T]],
    health: RedisHealth,
    *,
    first_delay_s: float = 0.2,
    max_delay_s: float = 5.0,
) -> T:
    """Run ``call`` until Redis answers; the caller (and so its input) waits meanwhile."""
    delay = first_delay_s
    while True:
        try:
            result = await call()
        except REDIS_ERRORS as exc:
            health.failed(operation, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
            continue
        health.ok()
        return result


# -- the worker as a whole: Kafka, lag, the violation log, progress ------------------------

PROBE_INTERVAL_S = 5.0  # how often the watchdog looks (worker/watchdog.py)
PROBE_TIMEOUT_S = 5.0  # a broker that does not answer a probe in this long is unreachable
LOG_GRACE_S = 30.0  # the violation log may trail the topic this long before it counts
CHECKS = ("kafka", "redis", "lag", "violation_log", "progress")


@dataclass(frozen=True)
class Limits:
    """When the worker counts as unhealthy, and when as stalled (it then exits)."""

    max_lag: int  # LASTMILE_HEALTH_MAX_LAG: input messages waiting
    stall_s: float  # LASTMILE_STALL_TIMEOUT_S: no progress this long → exit non-zero
    log_grace_s: float = LOG_GRACE_S


@dataclass(frozen=True)
class Observation:
    """What one probe saw (worker/watchdog.py gathers it)."""

    at: float  # wall clock, seconds
    ready: bool  # the violation log has been read once (the worker processes input)
    kafka_error: str | None  # None when the broker answered the probe
    lag: int | None  # input messages behind the end of the owned partitions (None: unknown)
    log_behind: int | None  # violation-log records not mirrored yet (None: not probed)
    committed: tuple[tuple[str, int, int], ...]  # committed input offsets: moves on progress
    recovering: bool  # Faust is rebuilding tables from their changelogs


@dataclass
class WorkerHealth:
    """The worker's health from successive observations (pure: no I/O, no clock).

    ``observe`` returns why the worker is stalled (it must exit for its supervisor) or None.
    A stall is: the broker unreachable for ``stall_s``; not ready (violation log not read)
    for ``stall_s``; or input waiting with no offset committed for ``stall_s`` while Redis
    answers and no table is recovering (a Redis outage pauses the worker on purpose: it says
    so and resumes by itself, so that time does not count).
    """

    limits: Limits
    redis: RedisHealth
    started_at: float
    last: Observation | None = None
    kafka_down_since: float | None = None
    log_behind_since: float | None = None
    progress_at: float = 0.0  # the last time the worker moved, or had nothing to do
    problems: dict[str, str] = field(default_factory=dict)

    def observe(self, obs: Observation) -> str | None:
        prev, self.last = self.last, obs
        if obs.kafka_error is None:
            self.kafka_down_since = None
        elif self.kafka_down_since is None:
            self.kafka_down_since = obs.at
        if obs.log_behind:
            self.log_behind_since = self.log_behind_since or obs.at
        else:
            self.log_behind_since = None
        moved = prev is None or obs.committed != prev.committed
        idle = not obs.lag
        excused = obs.recovering or not self.redis.reachable or not obs.ready
        if moved or idle or excused or not self.progress_at:
            self.progress_at = obs.at
        self.problems = self._problems(obs)
        return self._stalled(obs)

    def _problems(self, obs: Observation) -> dict[str, str]:
        p: dict[str, str] = {}
        if obs.kafka_error is not None:
            p["kafka"] = f"the broker did not answer ({obs.kafka_error})"
        if obs.lag is not None and obs.lag > self.limits.max_lag:
            p["lag"] = f"{obs.lag} input messages waiting (limit {self.limits.max_lag})"
        if not obs.ready:
            p["violation_log"] = "reading the violation log before processing input"
        elif self.log_behind_since is not None and (
            obs.at - self.log_behind_since >= self.limits.log_grace_s
        ):
            p["violation_log"] = (
                f"{obs.log_behind} violations on the log not mirrored for "
                f"{obs.at - self.log_behind_since:.0f} s"
            )
        still = obs.at - self.progress_at
        if still >= self.limits.log_grace_s:
            p["progress"] = f"{obs.lag} messages waiting, nothing committed for {still:.0f} s"
        return p

    def _stalled(self, obs: Observation) -> str | None:
        stall = self.limits.stall_s
        if self.kafka_down_since is not None and obs.at - self.kafka_down_since >= stall:
            return f"Kafka unreachable for {obs.at - self.kafka_down_since:.0f} s"
        if not obs.ready and obs.at - self.started_at >= stall:
            return f"not ready {obs.at - self.started_at:.0f} s after start"
        if obs.at - self.progress_at >= stall:
            return f"no progress for {obs.at - self.progress_at:.0f} s with {obs.lag} waiting"
        return None

    def current_problems(self) -> dict[str, str]:
        """The last observation's problems, and Redis as of now (it is seen on every call)."""
        p = dict(self.problems)
        if not self.redis.reachable:
            p["redis"] = f"Redis unreachable ({self.redis.last_error or 'error'})"
        return p

    def as_dict(self) -> dict[str, object]:
        obs = self.last
        problems = self.current_problems()
        return {
            "healthy": not problems,
            "problems": problems,
            "kafka": {
                "reachable": self.kafka_down_since is None,
                "down_since": self.kafka_down_since,
            },
            "consumer_lag": None if obs is None else obs.lag,
            "max_lag": self.limits.max_lag,
            "violation_log_behind": None if obs is None else obs.log_behind,
            "last_progress": self.progress_at or None,
            "stall_timeout_s": self.limits.stall_s,
        }
