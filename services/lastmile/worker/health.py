"""Whether Redis answers, as the worker last saw it, and retrying until it does.

Redis holds only projections and holds, never the truth, so an outage must not stop the
worker: what needs Redis waits (with capped exponential backoff) and resumes by itself,
while ``/healthz`` and ``lastmile_redis_up`` say that Redis is unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
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
