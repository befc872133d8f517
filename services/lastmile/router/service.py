"""``lastmile router``: copy every record of violations.v1 to violations.v1.<CARRIER>.

A consumer group (``<app id>-router``, so ``lastmile-router`` by default) reads
``violations.v1``; each record is sent unchanged (key, value, headers) to its carrier's
topic by an idempotent producer with ``acks=all``; the group's offsets are committed only
after every send of the batch is acknowledged. Delivery is at-least-once: after a crash a
batch may be copied again, and a carrier deduplicates on ``violation_id`` (ADR 0004).

A key that cannot name a topic (none, not UTF-8, characters Kafka refuses) goes to
``lastmile.router-dlq.v1`` with the reason in a header, never dropped. A carrier seen for
the first time gets its topic created (partitions ``LASTMILE_PARTITIONS``, the durability
of ``violations.v1.<CARRIER>``, violations.v1's retention) unless
``LASTMILE_ROUTER_CREATE_TOPICS=false``; then a missing topic stops the router with a
clear error and nothing is committed, so it resumes from there once the topic exists.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from prometheus_client import generate_latest

from lastmile.io.kafka_access import KafkaAccess
from lastmile.io.kafka_topics import (
    VIOLATIONS_RETENTION,
    Durability,
    create_missing_topics,
    started_admin,
)
from lastmile.metrics import RouterMetrics
from lastmile.router.feeds import DLQ, ROUTER_GROUP_SUFFIX, SOURCE, Route, route
from lastmile.settings import Settings

log = logging.getLogger("lastmile.router")

REASON_HEADER = "lastmile-reason"
OFFSET_HEADER = "lastmile-offset"


class FeedTopicMissing(RuntimeError):
    """A carrier's topic does not exist and the router may not create it."""


class Router:
    def __init__(
        self,
        kafka: KafkaAccess | str,
        settings: Settings,
        durability: Durability,
        metrics: RouterMetrics | None = None,
    ) -> None:
        self.kafka = KafkaAccess.of(kafka)
        self.settings = settings
        self.durability = durability
        self.metrics = metrics or RouterMetrics.create()
        self.source = settings.topic(SOURCE)
        self.dlq = settings.topic(DLQ)
        self.group = f"{settings.app_id}{ROUTER_GROUP_SUFFIX}"
        self.known_topics: set[str] = set()
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Copy until `stop` is set (or an error that retrying cannot fix)."""
        admin = await started_admin(self.kafka)
        try:
            self.known_topics = set(await admin.list_topics())
        finally:
            await admin.close()
        # Subscribing to a missing topic would let a broker that auto-creates topics make it
        # with its defaults (a short retention): make it as the worker does, or refuse.
        await self._ensure_topics({self.source})
        kwargs = self.kafka.client_kwargs()
        consumer = AIOKafkaConsumer(
            self.source,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            **kwargs,
        )
        producer = AIOKafkaProducer(
            acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=256 * 1024, **kwargs
        )
        await producer.start()
        try:
            await consumer.start()
            try:
                self.ready.set()
                log.info(
                    "routing %s → %s.<CARRIER> (group %s)", self.source, self.source, self.group
                )
                while not stop.is_set():
                    batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                    records = [r for recs in batches.values() for r in recs]
                    if records:
                        await self.copy(records, producer)
                        await consumer.commit()  # the positions after this batch
                    await self._measure_lag(consumer)
            finally:
                await consumer.stop()
        finally:
            await producer.stop()

    async def copy(self, records: Iterable[ConsumerRecord], producer: AIOKafkaProducer) -> None:
        """Send each record to its route; return once the broker acknowledged all of them."""
        routed = [(r, route(self.source, self.dlq, r.key)) for r in records]
        await self._ensure_topics({rt.topic for _, rt in routed})
        pending = []
        for record, rt in routed:
            headers = list(record.headers or ())
            if rt.reason:
                headers += [
                    (REASON_HEADER, rt.reason.encode()),
                    (OFFSET_HEADER, f"{record.topic}:{record.partition}:{record.offset}".encode()),
                ]
                log.warning(
                    "record %s:%s → %s (%s)", record.partition, record.offset, rt.topic, rt.reason
                )
            pending.append(
                await producer.send(rt.topic, value=record.value, key=record.key, headers=headers)
            )
        await asyncio.gather(*pending)
        self._count(rt for _, rt in routed)

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        """lastmile_router_lag_records: the broker's high watermarks (from the last fetch)
        minus the router's positions, over its partitions."""
        lag = 0
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lag += max(0, highwater - await consumer.position(tp))
        self.metrics.lag.set(lag)

    def _count(self, routes: Iterable[Route]) -> None:
        copied: Counter[str] = Counter()
        for rt in routes:
            if rt.reason:
                self.metrics.dead_letters.labels(rt.reason).inc()
            else:
                copied[rt.carrier or ""] += 1
        for carrier, n in copied.items():
            self.metrics.copied.labels(carrier).inc(n)
        self.metrics.last_copy_timestamp.set(time.time())

    async def _ensure_topics(self, topics: set[str]) -> None:
        missing = sorted(topics - self.known_topics)
        if not missing:
            return
        if not self.settings.router_create_topics:
            admin = await started_admin(self.kafka)
            try:
                self.known_topics = set(await admin.list_topics())
            finally:
                await admin.close()
            still = [t for t in missing if t not in self.known_topics]
            if still:
                raise FeedTopicMissing(
                    f"topic {', '.join(still)} does not exist and LASTMILE_ROUTER_CREATE_TOPICS "
                    "is false: create it (a carrier's topic with its ACLs: lastmile "
                    "carrier-acls; violations.v1 by starting a worker), then restart the "
                    "router; nothing was committed past it"
                )
            return
        created = await create_missing_topics(
            self.kafka,
            missing,
            self.settings.partitions,
            self.durability,
            lambda name: VIOLATIONS_RETENTION,  # the dead letters are violations too
        )
        for name in created:
            log.info("created topic %s", name)
        self.metrics.topics_created.inc(len(created))
        self.known_topics.update(missing)


async def serve_metrics(router: Router, host: str, port: int) -> web.AppRunner:
    """/metrics and /healthz of the router on host:port."""

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(router.metrics.registry),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def healthz(request: web.Request) -> web.Response:
        ok = router.ready.is_set()
        return web.json_response({"ready": ok}, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def run_router(kafka: KafkaAccess, settings: Settings, durability: Durability) -> None:
    """The router with its web page until SIGTERM / SIGINT."""
    import signal

    router = Router(kafka, settings, durability)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = await serve_metrics(router, settings.web_host, settings.router_web_port)
    try:
        await router.run(stop)
    finally:
        await runner.cleanup()


__all__: list[Any] = ["FeedTopicMissing", "Router", "run_router", "serve_metrics"]
