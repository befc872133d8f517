"""Gauges refreshed at scrape time and on a timer: stuck parcels, coverage, fusion, lag."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.metrics import Metrics
from lastmile.pipeline.runstate import RunState
from lastmile.readmodel.reader import ReadModelReader
from lastmile.worker.health import REDIS_ERRORS, RedisHealth

log = logging.getLogger(__name__)


class SingleFlight:
    """One refresh at a time: a call while one is under way waits for that one rather
    than starting another (Prometheus, a second scraper and the timer may overlap)."""

    def __init__(self, run: Callable[[], Awaitable[None]]) -> None:
        self._run = run
        self._running: asyncio.Future[None] | None = None

    async def __call__(self) -> None:
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._run())
        await asyncio.shield(self._running)


def refresh_stuck(metrics: Metrics, state: RunState, config: RuleConfig) -> None:
    metrics.stuck_parcels.clear()
    for (tier, town), n in state.stuck(config.stuck_hours).items():
        metrics.stuck_parcels.labels(tier, town).set(n)


async def refresh_coverage(
    metrics: Metrics,
    reader: ReadModelReader,
    network: Network,
    config: RuleConfig,
    state: RunState,
    health: RedisHealth,
) -> None:
    """Coverage (通达率) and brand fusion per town, from the shared Redis read model.

    "Now" is the newest event time seen (so a replay of old traffic reports what it
    reported live), or the wall clock before any event.
    """
    now = state.watermark or time.time()
    codes = list(network.towns)
    try:
        counts = await reader.coverage_counts(codes, now - config.coverage_days * 86400, now)
    except REDIS_ERRORS as exc:  # the gauges keep their last values; health says why
        health.failed("refresh_coverage", exc)
        return
    health.ok()
    m = metrics
    for code, (reached, brands) in zip(codes, counts, strict=True):
        total = len(network.villages_of(code))
        m.villages.labels(code).set(total)
        m.villages_reached.labels(code).set(reached)
        m.village_coverage.labels(code).set(reached / total if total else 0)
        m.town_brands.labels(code).set(brands)
        m.town_info.labels(code, network.towns[code].name).set(1)


def input_position(app: Any, topics: list[str]) -> tuple[Counter[str], tuple[Any, ...]] | None:
    """Messages behind per input topic on the owned partitions, and their committed offsets
    (which move when the worker makes progress); None while the consumer cannot say."""
    consumer: Any = app.consumer
    lag: Counter[str] = Counter()
    committed: list[tuple[str, int, int]] = []
    try:
        for tp in app.assignor.assigned_actives():
            if tp.topic not in topics:
                continue
            high = consumer.highwater(tp)
            done = consumer._committed_offset.get(tp) or 0
            committed.append((tp.topic, tp.partition, done))
            if high is not None:
                lag[tp.topic] += max(0, high - done)
    except Exception:
        log.debug("consumer lag unavailable", exc_info=True)
        return None
    return lag, tuple(sorted(committed))


def refresh_consumer_lag(metrics: Metrics, app: Any, topics: list[str]) -> None:
    """Messages between each owned input partition's end and its committed offset."""
    position = input_position(app, topics)
    if position is None:
        return
    lag = position[0]
    for topic in topics:
        metrics.consumer_lag.labels(topic).set(lag.get(topic, 0))
