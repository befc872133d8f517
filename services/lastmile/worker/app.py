"""The Faust app: topics, tables and the two agents around the pure core.

  scans.v1 + complaints.v1 (co-partitioned by parcel_id)
      └─ agent ``parcels``: decode → fold into the parcel table → analyse → gate → publish
             ├─ invalid → scans.v1.dlq / complaints.v1.dlq (original bytes + reason headers)
             ├─ new violations → violations.v1 (key = responsible carrier)
             └─ sign-offs of inbound parcels → lastmile.signoffs-by-courier.v1 (key = courier)
  lastmile.signoffs-by-courier.v1
      └─ agent ``couriers``: courier table of sign-offs → bulk-sign-off windows → gate → publish

Agent bodies stay short: the work is in ``step`` (pure), ``couriers`` and the adapters.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust
import orjson
from faust.streams import _current_event  # partition context for table writes (ADR 0003)
from mode import CrashingSupervisor
from prometheus_client import generate_latest
from redis.asyncio import Redis

from lastmile.contract.decode import InvalidMessage, decode_complaint, decode_scan
from lastmile.domain.engine import analyse_parcel
from lastmile.domain.events import Event
from lastmile.domain.facts import INBOUND, Destination
from lastmile.domain.findings import Finding, to_violation
from lastmile.domain.network import Network
from lastmile.domain.path import ParcelPath
from lastmile.domain.rules import RuleConfig
from lastmile.metrics import Metrics
from lastmile.settings import Settings
from lastmile.worker import gauges
from lastmile.worker.codec import (
    SignoffsCodec,
    decode_path,
    decode_signoff,
    encode_path,
    encode_signoff,
)
from lastmile.worker.counting import count_batch
from lastmile.worker.couriers import bulk_near, merge_signoffs
from lastmile.worker.expiry import ExpiryIndex
from lastmile.worker.faults import Faults
from lastmile.worker.health import REDIS_ERRORS, RedisHealth, until_ok
from lastmile.worker.holds import Holds, is_held
from lastmile.worker.projection import Projection
from lastmile.worker.step import Source, apply_batch
from lastmile.worker.violation_log import PUBLISHER_HEADER, SOURCE_HEADER, ViolationLog

log = logging.getLogger("lastmile.worker")

SCANS, COMPLAINTS, VIOLATIONS = "scans.v1", "complaints.v1", "violations.v1"
SIGNOFFS = "lastmile.signoffs-by-courier.v1"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"
SIGNOFFS_CODEC = SignoffsCodec()
Candidate = tuple[Finding, Destination, str, str]  # finding, destination, contract carrier, source


@dataclass
class Topics:
    scans: str
    complaints: str
    violations: str
    signoffs: str

    @classmethod
    def of(cls, settings: Settings) -> Topics:
        t = settings.topic
        return cls(t(SCANS), t(COMPLAINTS), t(VIOLATIONS), t(SIGNOFFS))

    def dlq(self, topic: str) -> str:
        return f"{topic}.dlq"

    def all_with_partitions(self) -> list[str]:
        return [
            self.scans,
            self.complaints,
            self.dlq(self.scans),
            self.dlq(self.complaints),
            self.violations,
            self.signoffs,
        ]


@dataclass
class Worker:
    """Everything the agents share: settings, core inputs, adapters and run-time state."""

    settings: Settings
    network: Network
    config: RuleConfig
    metrics: Metrics
    topics: Topics
    app: faust.App
    redis: Redis
    projection: Projection
    log: ViolationLog
    health: RedisHealth
    faults: Faults
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    needs_catch_up: bool = False
    watermark: float = 0.0  # newest event time seen
    open_hops: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    expiry: ExpiryIndex = field(default_factory=ExpiryIndex)
    outputs: dict[str, Any] = field(default_factory=dict)  # topic name → Faust topic we send to
    agents: dict[str, Any] = field(default_factory=dict)
    fatal: BaseException | None = None  # the first error that stops the worker


def make_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.store,
        datadir=settings.data_dir,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,  # a violation is durable before the input offset is committed
        broker_commit_every=5000,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=16384,
        table_cleanup_interval=3600.0,
        consumer_auto_offset_reset="earliest",
        # a worker killed with SIGKILL holds its partitions until its session expires:
        # keep that short so a restarted (or surviving) worker takes over within seconds
        broker_session_timeout=15.0,
        broker_heartbeat_interval=3.0,
    )


def create_worker(
    settings: Settings, network: Network, config: RuleConfig, metrics: Metrics | None = None
) -> Worker:
    app = make_app(settings)
    # timeouts: a frozen Redis must fail a call (and be retried), never hang the worker
    redis = Redis.from_url(settings.redis_url, socket_timeout=5.0, socket_connect_timeout=3.0)
    projection = Projection(redis, network, settings.redis_prefix, config.retention_days)
    topics = Topics.of(settings)
    metrics = metrics or Metrics.create()
    health = RedisHealth(metrics.redis_up, metrics.redis_errors)

    async def project_violations(items: list[dict]) -> None:
        await until_ok("project_violations", partial(projection.violations, items), health)

    w = Worker(
        settings,
        network,
        config,
        metrics,
        topics,
        app,
        redis,
        projection,
        ViolationLog(settings.kafka_bootstrap, topics.violations, project_violations),
        health,
        Faults(settings.faults),
    )
    worker_id = settings.worker_id
    # nothing until the log is read: a partial count would look like a counter reset
    w.metrics.watch_violations(lambda: w.log.totals(worker_id) if w.ready.is_set() else [])
    holds = Holds(redis, f"{settings.redis_prefix}:holds:{settings.app_id}", settings.hold_s)

    def raw_topic(*names: str) -> faust.TopicT:
        return app.topic(
            *names,
            partitions=settings.partitions,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )

    inputs = raw_topic(topics.scans, topics.complaints)
    signoff_topic = raw_topic(topics.signoffs)
    for name in (
        topics.violations,
        topics.signoffs,
        topics.dlq(topics.scans),
        topics.dlq(topics.complaints),
    ):
        w.outputs[name] = signoff_topic if name == topics.signoffs else raw_topic(name)
    out = w.outputs  # looked up at send time, so tests can stand in for a topic
    # Values are our own bytes (codec.py), so every store (memory://, rocksdb://) and the
    # changelog hold the same thing; Faust derives json keys / raw values from the types.
    table_args: dict[str, Any] = {
        "default": None,  # a missing key reads as None (Faust's stubs want a factory)
        "partitions": settings.partitions,
        "key_type": str,
        "value_type": bytes,
    }
    parcels = app.Table("parcels", **table_args)
    couriers = app.Table("couriers", **table_args)

    def stored_path(parcel_id: str) -> ParcelPath | None:
        data = parcels.get(parcel_id)
        return None if data is None else decode_path(data)

    def expire_parcels(partition: int, stored: dict[str, ParcelPath]) -> None:
        """Drop parcels whose last event is older than the retention period (ADR 0001)."""
        w.expiry.touch(partition, ((pid, p.last_ts) for pid, p in stored.items()))
        horizon = w.watermark - config.retention_days * 86400

        def last_ts_of(pid: str) -> float | None:
            path = stored_path(pid)
            return None if path is None else path.last_ts

        for pid in w.expiry.expired(partition, horizon, last_ts_of):
            del parcels[pid]

    async def publish(candidates: Iterable[Candidate]) -> list[tuple[str, Any]]:
        """The idempotent gate: publish each violation violations.v1 does not hold yet.

        Returns (violation id, what ``send`` returned) for each violation handed to the
        producer; outside an agent that is a future resolved when the broker acknowledges.
        """
        now = datetime.now(UTC)
        sent: list[tuple[str, Any]] = []
        for finding, dest, contract_carrier, source in candidates:
            if not w.log.claim(finding.violation_id):
                continue
            v = to_violation(finding, dest, contract_carrier, config, now)
            ack = await out[topics.violations].send(
                key=v["carrier"].encode(),
                value=orjson.dumps(v),
                headers=[(SOURCE_HEADER, source.encode()), (PUBLISHER_HEADER, worker_id.encode())],
            )
            sent.append((finding.violation_id, ack))
        return sent

    async def dead_letter(topic: str, ev: Any, exc: InvalidMessage) -> None:
        msg = ev.message
        await out[topics.dlq(topic)].send(
            key=msg.key,
            value=msg.value,
            headers=[
                ("lastmile-reason", exc.reason.encode()),
                ("lastmile-detail", exc.detail.encode()),
                ("lastmile-offset", f"{topic}:{msg.partition}:{msg.offset}".encode()),
            ],
        )
        w.metrics.invalid_messages.labels(topic, exc.reason).inc()

    async def before_batch() -> None:
        await w.ready.wait()
        if w.needs_catch_up:  # after a rebalance, see what other workers published first
            w.needs_catch_up = False
            await w.log.catch_up()

    async def run_batches(batches: Any, handle: Any) -> Any:
        """Handle a stream's batches; yields one value per batch (for agent.test_context()).

        The first error is remembered as the worker's fatal one and stops the worker (for
        its supervisor to restart), never leaving a live process that consumes nothing. The
        other agent, cancelled while the app goes down after it, ends quietly instead of
        reporting a second crash.
        """
        it = batches.__aiter__()
        while True:
            try:
                batch = await it.__anext__()
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if w.fatal is not None:
                    return
                raise
            try:
                await handle(batch)
            except Exception as exc:
                w.fatal = w.fatal or exc
                raise
            yield len(batch)

    async def on_parcels(batch: Any) -> None:
        await before_batch()
        for events in by_partition(batch):
            _current_event.set(weakref.ref(events[-1]))  # table writes: this partition
            decoded, dead = decode_events(events, topics)
            w.faults.hit("agent-error")
            for topic, ev, exc in dead:
                await dead_letter(topic, ev, exc)
            outcome, to_store, signoffs = apply_batch(decoded, stored_path, network, config)
            for pid, path in to_store.items():
                parcels[pid] = encode_path(path)
            expire_parcels(events[-1].message.partition, to_store)
            for s, a, _ in signoffs:
                village = a.dest.village
                assert village is not None  # only inbound parcels' sign-offs are sent
                await out[topics.signoffs].send(
                    key=s.courier_id.encode(),
                    value=encode_signoff(
                        s, village.town, village.remote, a.contract_carrier or s.carrier
                    ),
                )
            now, held = datetime.now(UTC).timestamp(), set()
            ready: list[Candidate] = []
            for f, a, src in outcome.findings():
                if w.log.seen(f.violation_id):
                    continue
                if is_held(f):
                    held.add((src[1], f.parcel_id))
                else:
                    ready.append((f, a.dest, a.contract_carrier or f.carrier, f"{src[0]}:{src[1]}"))
            await publish(ready)
            # Redis down: wait here (consumption pauses) and go on when it answers
            await until_ok("hold", partial(holds.hold, held, now), health)
            await until_ok("project", partial(w.projection.batch, outcome), health)
            count_batch(w, outcome, events)

    async def on_couriers(batch: Any) -> None:
        await before_batch()
        for events in by_partition(batch):
            _current_event.set(weakref.ref(events[-1]))
            source = f"{topics.signoffs}:{events[-1].message.partition}"
            incoming: dict[str, list[Any]] = defaultdict(list)
            for ev in events:
                incoming[ev.message.key.decode()].append(decode_signoff(ev.message.value))
            found: list[Candidate] = []
            for courier, new in incoming.items():
                old = couriers.get(courier)
                records = merge_signoffs(SIGNOFFS_CODEC.loads(old) if old else [], new, config)
                couriers[courier] = SIGNOFFS_CODEC.dumps(records)
                for finding, (s, _, _, contract_carrier) in bulk_near(records, new, config):
                    dest = Destination(network.village(s.village), None, None, INBOUND)
                    found.append((finding, dest, contract_carrier, source))
            await publish(found)

    @app.agent(inputs, name="parcels", supervisor_strategy=CrashingSupervisor)
    async def process_parcels(stream: Any) -> Any:
        batches = stream.take_events(settings.batch_size, within=settings.batch_within_s)
        async for n in run_batches(batches, on_parcels):
            yield n

    @app.agent(signoff_topic, name="couriers", supervisor_strategy=CrashingSupervisor)
    async def process_couriers(stream: Any) -> Any:
        batches = stream.take_events(settings.batch_size, within=settings.batch_within_s)
        async for n in run_batches(batches, on_couriers):
            yield n

    w.agents.update(parcels=process_parcels, couriers=process_couriers)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        gauges.refresh_stuck(w)
        await gauges.refresh_coverage(w)  # one pipelined Redis round trip: fresh at every scrape
        return web.bytes(generate_latest(w.metrics.registry), content_type=METRICS_CONTENT_TYPE)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        """200 when healthy; 503 while Redis is unreachable (the worker waits for it)."""
        return web.json(
            {
                "ready": w.ready.is_set(),
                "healthy": health.reachable,
                "redis": health.as_dict(),
                "violations_known": len(w.log.ids),
                "watermark": w.watermark,
            },
            status=200 if health.reachable else 503,
        )

    async def on_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        w.needs_catch_up = True

    async def on_shutdown(sender: Any, *args: Any, **kwargs: Any) -> None:
        """Flush what the producer holds while it still runs, then close our own clients."""
        try:
            await app.producer.flush()
        except Exception as exc:  # shutting down after a crash: keep going, say why
            log.warning("could not flush the producer at shutdown: %s", exc)
        await w.log.stop()
        await w.redis.aclose()

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]
    app.on_before_shutdown.connect(on_shutdown)  # type: ignore[arg-type]

    @app.task
    async def start_violation_log() -> None:
        await w.log.start()
        await w.log.catch_up()
        w.ready.set()
        log.info("violation log caught up: %d violations already published", len(w.log.ids))

    @app.timer(interval=1.0)
    async def release_holds() -> None:
        """Publish held findings whose hold is over, judged on the parcel's state now.

        Order of effects (ADR 0001): publish, wait for the broker's acknowledgement, and
        only then remove the holds. A crash in between leaves the holds, so the next owner
        releases them again and the gate keeps the violation single.
        """
        if not w.ready.is_set():
            return
        owned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topics.scans}
        try:
            pending = await holds.due(datetime.now(UTC).timestamp())
        except REDIS_ERRORS as exc:  # Redis down: try again at the next tick
            health.failed("release_holds", exc)
            return
        health.ok()
        due = [(p, pid) for p, pid in pending if p in owned]
        ready: list[Candidate] = []
        for partition, pid in due:
            path = stored_path(pid)
            if path is None:
                continue
            a = analyse_parcel(path, network, config)
            source = f"{topics.scans}:{partition}"
            ready.extend(
                (f, a.dest, a.contract_carrier or f.carrier, source)
                for f in a.findings
                if is_held(f)
            )
        sent = await publish(ready)
        w.faults.hit("hold-published")
        try:
            await asyncio.gather(*(ack for _, ack in sent))
        except Exception as exc:  # not acknowledged: keep the holds, retry at the next tick
            for vid, _ in sent:
                w.log.unclaim(vid)
            log.warning("held violations not acknowledged (%s); holds kept for a retry", exc)
            return
        try:
            await holds.release(due)
        except REDIS_ERRORS as exc:  # released again later; the gate keeps them single
            health.failed("release_holds", exc)
            return
        w.faults.hit("hold-released")

    @app.timer(interval=10.0)
    async def refresh_gauges() -> None:  # never raises: Redis trouble is logged and counted
        await gauges.refresh_coverage(w)
        gauges.refresh_consumer_lag(w, [topics.scans, topics.complaints])

    return w


def by_partition(events: Iterable[Any]) -> list[list[Any]]:
    """A batch split by input partition (table writes must name their partition)."""
    groups: dict[int, list[Any]] = defaultdict(list)
    for ev in events:
        groups[ev.message.partition].append(ev)
    return list(groups.values())


def decode_events(
    events: Sequence[Any], topics: Topics
) -> tuple[list[tuple[Event, Source]], list[tuple[str, Any, InvalidMessage]]]:
    decoded: list[tuple[Event, Source]] = []
    dead: list[tuple[str, Any, InvalidMessage]] = []
    for ev in events:
        msg = ev.message
        is_complaint = msg.topic == topics.complaints
        decode = decode_complaint if is_complaint else decode_scan
        try:
            e: Event = decode(msg.value if msg.value is not None else b"")
        except InvalidMessage as exc:
            dead.append((topics.complaints if is_complaint else topics.scans, ev, exc))
            continue
        decoded.append((e, (msg.topic, msg.partition)))
    return decoded, dead


__all__ = ["Topics", "Worker", "create_worker"]
