"""Webhook dispatcher: follows the {p}:vs stream and POSTs each carrier's violations to it.

At-least-once and never lost: a carrier's cursor on the stream moves past a violation only
after its endpoint answered 2xx; until then the same delivery (same delivery id = the
stream entry id, same body, fresh timestamp and signature) is retried with exponential
backoff capped at ``backoff_max_s``, for as long as the registration exists. One task per
carrier, so a failing endpoint never delays another carrier; a Redis lease per carrier lets
several API replicas run dispatchers without delivering twice in normal operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from lastmile.api import egress
from lastmile.api.auth import KeyStore
from lastmile.api.config import ApiConfig
from lastmile.api.metrics import ApiMetrics
from lastmile.api.signing import delivery_headers
from lastmile.api.webhooks import WebhookStore
from lastmile.readmodel.keys import Keys

log = logging.getLogger("lastmile.api.webhooks")
RESPONSE_READ_LIMIT = 4096  # bytes of a receiver's answer read at most

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


def backoff(attempt: int, base_s: float, max_s: float) -> float:
    """Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, ±10 % jitter."""
    delay = min(max_s, base_s * (2 ** min(attempt - 1, 30)))
    return float(delay * random.uniform(0.9, 1.1))


def _iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).isoformat(
        timespec="milliseconds"
    )


def _entry_age_s(entry_id: str) -> float:
    return max(0.0, time.time() - int(entry_id.split("-")[0]) / 1000)


class Dispatcher:
    def __init__(self, redis: Redis, prefix: str, config: ApiConfig, metrics: ApiMetrics) -> None:
        self.redis = redis
        self.p = prefix
        self.config = config
        self.metrics = metrics
        self.store = WebhookStore(redis, prefix)
        self.keys = KeyStore(redis, prefix)
        self.token = secrets.token_hex(8)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        """Start a task for every registered carrier; runs until cancelled."""
        self._session = egress.session(
            self.config.webhook_timeout_s, self.config.allow_insecure_webhooks
        )
        try:
            while True:
                try:
                    carriers = await self.redis.smembers(self.store.carriers_key)  # type: ignore[misc]
                except RedisError as exc:  # Redis down for a moment: try on the next poll
                    log.warning("listing webhook registrations failed: %s", type(exc).__name__)
                    carriers = set()
                for c in carriers:
                    task = self._tasks.get(c)
                    if task is None or task.done():
                        self._tasks[c] = asyncio.create_task(
                            self._carrier_loop(c), name=f"webhooks:{c}"
                        )
                await asyncio.sleep(self.config.webhook_poll_s)
        finally:
            for task in self._tasks.values():
                task.cancel()
            for task in self._tasks.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._session.close()
            # hand the leases over at once (a crashed process's leases expire after lease_s)
            for carrier in self._tasks:
                with contextlib.suppress(Exception):
                    await self._release(keys=[self.store.key("lock", carrier)], args=[self.token])

    # -- one carrier -------------------------------------------------------------------

    @property
    def _lease_ms(self) -> int:
        return int(self.config.webhook_lease_s * 1000)

    async def _hold_lease(self, carrier: str) -> bool:
        key = self.store.key("lock", carrier)
        if await self._renew(keys=[key], args=[self.token, self._lease_ms]) == 1:
            return True
        return bool(await self.redis.set(key, self.token, nx=True, px=self._lease_ms))

    async def _carrier_loop(self, carrier: str) -> None:
        try:
            while await self.store.get(carrier) is not None:
                if not await self.keys.carrier_has_live_key(carrier):
                    await self._suspend(carrier)  # revoked: nothing leaves until a new key
                    continue
                if not await self._hold_lease(carrier):
                    await asyncio.sleep(self.config.webhook_poll_s)
                    continue
                await self._catch_up(carrier)
        except asyncio.CancelledError:
            raise
        except RedisError as exc:
            log.warning("webhooks for %s paused: Redis %s", carrier, type(exc).__name__)
            await asyncio.sleep(self.config.webhook_poll_s)
        except Exception:
            log.exception("webhook loop for %s failed; it restarts on the next poll", carrier)
            await asyncio.sleep(self.config.webhook_poll_s)

    async def _suspend(self, carrier: str) -> None:
        await self.redis.hset(self.store.key("state", carrier), "status", "suspended")  # type: ignore[misc]
        self.metrics.webhook_lag_seconds.labels(carrier).set(0)
        await asyncio.sleep(self.config.webhook_poll_s)

    async def _catch_up(self, carrier: str) -> None:
        cursor_key = self.store.key("cursor", carrier)
        cursor = await self.redis.get(cursor_key) or "0-0"
        block_ms = max(1, int(self.config.webhook_poll_s * 1000))
        res = await self.redis.xread(
            {Keys(self.p).violation_stream: cursor}, count=100, block=block_ms
        )
        if not res:
            self.metrics.webhook_lag_seconds.labels(carrier).set(0)
            return
        last = cursor
        for entry_id, fields in res[0][1]:
            last = entry_id
            if fields.get("carrier") != carrier:
                continue
            self.metrics.webhook_lag_seconds.labels(carrier).set(_entry_age_s(entry_id))
            if not await self._deliver(carrier, entry_id, fields["id"]):
                return  # registration removed or lease lost: stop without moving the cursor
            # compare-and-set, so a dispatcher that lost its lease cannot move the cursor back
            if not await self._advance(cursor_key, cursor, entry_id):
                return
            cursor = entry_id
        if last != cursor:
            await self._advance(cursor_key, cursor, last)
        self.metrics.webhook_lag_seconds.labels(carrier).set(0)

    async def _advance(self, key: str, expected: str, new: str) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        try:
            await pipe.watch(key)
            current = await pipe.get(key)
            if current not in (None, expected):
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(key, new)
            await pipe.execute()
            return True
        except Exception:
            return False
        finally:
            await pipe.reset()  # type: ignore[no-untyped-call]

    async def _deliver(self, carrier: str, delivery_id: str, violation_id: str) -> bool:
        raw = await self.redis.hget(Keys(self.p).violation_docs, violation_id)  # type: ignore[misc]
        if raw is None:  # cannot happen with the worker's projection (document first, then XADD)
            log.error(
                "violation %s of stream entry %s is missing; skipped", violation_id, delivery_id
            )
            return True
        body = orjson.dumps(
            {"delivery_id": delivery_id, "type": "violation", "violation": orjson.loads(raw)}
        )
        attempt = 0
        failing_since: str | None = None
        while True:
            attempt += 1
            reg = await self.store.get(carrier)
            if reg is None or not await self.keys.carrier_has_live_key(carrier):
                return False  # removed, or the carrier's last key was revoked
            if not await self._hold_lease(carrier):
                return False
            outcome, status, error, took = await self._post(reg, delivery_id, body)
            self.metrics.deliveries.labels(carrier, outcome).inc()
            self.metrics.delivery_seconds.labels(carrier).observe(took)
            entry: dict[str, Any] = {
                "delivery_id": delivery_id,
                "violation_id": violation_id,
                "attempt": attempt,
                "outcome": outcome,
                "status_code": status,
                "error": error,
                "duration_ms": round(took * 1000, 1),
                "at": _iso(),
            }
            if outcome == "delivered":
                self.metrics.webhook_failing.labels(carrier).set(0)
                await self.store.record(
                    carrier,
                    entry,
                    {
                        "status": "ok",
                        "attempts": 0,
                        "last_error": "",
                        "last_attempt_at": entry["at"],
                        "last_success_at": entry["at"],
                        "failing_since": "",
                        "pending_delivery": "",
                    },
                )
                return True
            delay = backoff(
                attempt, self.config.webhook_backoff_base_s, self.config.webhook_backoff_max_s
            )
            failing_since = failing_since or entry["at"]
            entry["next_retry_at"] = _iso(time.time() + delay)
            self.metrics.webhook_failing.labels(carrier).set(1)
            await self.store.record(
                carrier,
                entry,
                {
                    "status": "retrying",
                    "attempts": attempt,
                    "last_error": error or f"HTTP {status}",
                    "last_attempt_at": entry["at"],
                    "failing_since": failing_since,
                    "pending_delivery": delivery_id,
                },
            )
            await self._sleep_holding_lease(carrier, delay)

    async def _sleep_holding_lease(self, carrier: str, delay: float) -> None:
        step = max(0.05, self.config.webhook_lease_s / 3)
        while delay > 0:
            await asyncio.sleep(min(step, delay))
            delay -= step
            await self._hold_lease(carrier)

    async def _post(
        self, reg: dict[str, Any], delivery_id: str, body: bytes
    ) -> tuple[str, int | None, str | None, float]:
        assert self._session is not None
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            **delivery_headers(reg["secret"], delivery_id, ts, body),
        }
        started = time.perf_counter()
        try:
            egress.check_literal(reg["url"], self.config.allow_insecure_webhooks)
            async with self._session.post(
                reg["url"], data=body, headers=headers, allow_redirects=False
            ) as resp:
                # read a few KiB at most: the answer is not used, and an endless or huge
                # body must not grow this process (the connection is closed, not reused)
                await resp.content.read(RESPONSE_READ_LIMIT)
                took = time.perf_counter() - started
                ok = 200 <= resp.status < 300
                return ("delivered" if ok else "failed"), resp.status, None, took
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            return "failed", None, egress.error_class(exc), time.perf_counter() - started
