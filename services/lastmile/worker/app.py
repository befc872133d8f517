"""The Faust app: topics, tables, intake tasks and timers wired to the pipeline.

  scans.v1 + complaints.v1 (co-partitioned by parcel_id)
      └─ intake ``parcels`` (batches): decode → pipeline.step_parcels → runner.apply
             ├─ invalid → scans.v1.dlq / complaints.v1.dlq (original bytes + reason headers)
             ├─ new violations → violations.v1 (key = responsible carrier)
             ├─ late-sensitive findings → holds (Redis), released by the ``release_holds`` timer
             └─ sign-offs of inbound parcels → lastmile.signoffs-by-courier.v1 (key = courier)
  lastmile.signoffs-by-courier.v1
      └─ intake ``couriers``: pipeline.step_couriers (bulk sign-off windows) → runner

Everything that decides is in ``lastmile.pipeline`` (pure steps, a runner over ports);
this module only builds the adapters and hands Faust's batches to it. The inputs are
``BatchTopic``s, not agents: Faust's consumer, assignor, tables and commits as usual, but
without its per-event stream machinery (worker/intake.py, worker/fetch.py, ADR 0005).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust
from prometheus_client import generate_latest

from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.io.codec import decode_signoffs
from lastmile.io.kafka_access import changelog_topic_configs, faust_app_kwargs, kafka_access
from lastmile.io.redis_client import connect, redis_options
from lastmile.metrics import Metrics
from lastmile.pipeline.couriers import step_couriers
from lastmile.pipeline.effects import Effects
from lastmile.pipeline.intake import decode_batch
from lastmile.pipeline.parcels import expire, folded_first, step_parcels
from lastmile.pipeline.produce import step_produce
from lastmile.pipeline.records import COMPLAINTS, SCANS, RawMessage, SignoffRecord
from lastmile.pipeline.runner import Ports, Runner
from lastmile.pipeline.runstate import RunState
from lastmile.readmodel.holds import RedisHolds
from lastmile.readmodel.keys import Keys
from lastmile.readmodel.produce import ProduceReader
from lastmile.readmodel.reader import ReadModelReader
from lastmile.readmodel.writer import ReadModelWriter
from lastmile.runtime import freeze_startup_objects
from lastmile.settings import Settings
from lastmile.worker import gauges
from lastmile.worker.batch_send import faust_producer
from lastmile.worker.expiry_sweep import ExpirySweep
from lastmile.worker.faults import Faults
from lastmile.worker.fetch import LastmileApp
from lastmile.worker.health import REDIS_ERRORS, RedisHealth, until_ok
from lastmile.worker.intake import Begin, Durable, Finish, batch_topic, nothing_left, run_intake
from lastmile.worker.metrics_sink import PrometheusSink
from lastmile.worker.outbox import KafkaOutbox
from lastmile.worker.produce_gauges import refresh_produce
from lastmile.worker.recovered import RecoveredTables
from lastmile.worker.rocksdb_memory import RocksDBBudget
from lastmile.worker.sensors import QuietMonitor
from lastmile.worker.tables import TableCouriers, TableParcels
from lastmile.worker.topics import TopicNames
from lastmile.worker.violation_log import ViolationLog
from lastmile.worker.watchdog import PROBE_INTERVAL_S, build_watchdog

log = logging.getLogger("lastmile.worker")
FOLD_SLICE = 100  # messages folded between two turns of the event loop
LOOP_PROBE_S = 0.1  # how often the loop's lag is measured

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"
INTAKE_BUFFER = 16384  # messages fetched ahead per input before Faust stops fetching


@dataclass
class Worker:
    """A built worker: the Faust app and what its intake, pages and tests reach."""

    settings: Settings
    app: faust.App
    topics: TopicNames
    ports: Ports
    runner: Runner
    state: RunState
    log: ViolationLog
    health: RedisHealth
    metrics: Metrics
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    needs_catch_up: bool = False
    handle_parcels: Any = None  # a batch of scans.v1/complaints.v1 messages → effects
    handle_couriers: Any = None  # a batch of sign-offs by courier → effects
    fatal: BaseException | None = None  # the first error that stops the worker


def make_app(settings: Settings) -> faust.App:
    return LastmileApp(
        settings.app_id,
        **faust_app_kwargs(settings),  # broker, credentials, replication (io/kafka_access.py)
        store=settings.store,
        datadir=settings.data_dir,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,  # a violation is durable before the batch's state is stored
        broker_commit_every=5000,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=16384,
        table_cleanup_interval=3600.0,
        consumer_auto_offset_reset="earliest",
        # no standby copies of other workers' tables: a standby store applied changelog
        # records past ones Faust had dropped, so its persisted offset claimed records it
        # lacked and the next owner lost paths (ADR 0003); a new owner replays the changelog
        table_standby_replicas=0,
        # a worker killed with SIGKILL holds its partitions until its session expires:
        # keep that short so a restarted (or surviving) worker takes over within seconds
        broker_session_timeout=15.0,
        broker_heartbeat_interval=3.0,
        Monitor=QuietMonitor,  # our metrics are our own: no per-message bookkeeping
        producer_linger=0.002,  # a batch's sends leave together (we await their acks anyway)
        producer_max_batch_size=512 * 1024,  # a batch's changelog (~1 KiB a parcel) in few requests
    )


def create_worker(
    settings: Settings, network: Network, config: RuleConfig, metrics: Metrics | None = None
) -> Worker:
    app = make_app(settings)
    names = TopicNames.of(settings)
    metrics = metrics or Metrics.create()
    # a bounded pool and timeouts: a frozen Redis fails a call (retried), never hangs the worker
    redis = connect(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout_s=settings.redis_timeout_s,
        decode_responses=False,
        options=redis_options(settings),  # password file, TLS files (io/redis_client.py)
    )
    keys = Keys(settings.redis_prefix)
    writer = ReadModelWriter(redis, keys, config.retention_days)
    reader = ReadModelReader(redis, keys)
    produce_reader = ProduceReader(redis, keys)
    health = RedisHealth(metrics.redis_up, metrics.redis_errors)

    async def retry(operation: str, call: Any) -> Any:
        return await until_ok(operation, call, health)

    violation_log = ViolationLog(
        kafka_access(settings),
        names.violations,
        lambda items: retry("project_violations", partial(writer.violations, items)),
    )

    # Values are our own bytes (io/codec.py), so every store (memory://, rocksdb://) and the
    # changelog hold the same thing; Faust derives json keys / raw values from the types.
    table_args: dict[str, Any] = {
        "default": None,  # a missing key reads as None (Faust's stubs want a factory)
        "partitions": settings.partitions,
        "key_type": str,
        "value_type": bytes,
        "extra_topic_configs": changelog_topic_configs(settings),
    }
    parcels_table = app.Table("parcels", **table_args)
    couriers_table = app.Table("couriers", **table_args)
    if settings.store.startswith("rocksdb"):  # one memory budget for all partitions (ADR 0013)
        budget = RocksDBBudget(settings.rocksdb_memory_mb)
        budget.attach([parcels_table, couriers_table])
        metrics.rocksdb_memory.set_function(budget.usage)
    parcels = TableParcels(parcels_table, names.scans, settings.state_cache)
    couriers = TableCouriers(couriers_table, names.signoffs)
    ports = Ports(
        gate=violation_log,
        outbox=KafkaOutbox(partial(faust_producer, app), names, settings.worker_id),
        holds=RedisHolds(redis, keys.holds(settings.app_id), settings.hold_s),
        read_model=writer,
        parcels=parcels,
        couriers=couriers,
        metrics=PrometheusSink(metrics, time.time),
        clock=lambda: datetime.now(UTC),
        retry=retry,
        fault=Faults(settings.faults).hit,
        elapsed=time.perf_counter,
    )
    runner = Runner(ports, network, config)
    state = RunState()
    metrics.state_parcels.set_function(lambda: len(state.expiry))
    # parcels stored before the partition came to this worker join the expiry index
    sweep = ExpirySweep(parcels_table, state.expiry, enabled=settings.store.startswith("rocksdb"))
    w = Worker(settings, app, names, ports, runner, state, violation_log, health, metrics)
    # nothing until the log is read: a partial count would look like a counter reset
    metrics.watch_violations(
        lambda: violation_log.totals(settings.worker_id) if w.ready.is_set() else []
    )

    def raw(m: Any) -> RawMessage:
        kind = COMPLAINTS if m.topic == names.complaints else SCANS
        return RawMessage(kind, m.topic, m.partition, m.offset, m.key, m.value)

    async def before_batch() -> None:
        await w.ready.wait()
        if w.needs_catch_up:  # after a rebalance, see what other workers published first
            w.needs_catch_up = False
            await violation_log.catch_up()

    async def begin_parcels(batch: list[Any]) -> Finish:
        """Decode, fold and judge a batch and hand its effects over (runner.begin)."""
        await before_batch()
        started = time.perf_counter()
        fx = Effects()
        located = decode_batch(map(raw, batch), fx)
        ports.fault("agent-error")
        processing_ts = time.time()  # contract §7 clock skew; also caps the watermark
        state.ceiling = processing_ts + config.clock_skew_s
        # in slices, letting the loop run between them: the producer's and Redis's replies
        # for the batch finishing meanwhile are not held up behind a long fold
        lookup = folded_first(fx, parcels.get)
        for i in range(0, len(located), FOLD_SLICE):
            if i:
                await asyncio.sleep(0)
            step_parcels(located[i : i + FOLD_SLICE], lookup, network, config, state, fx)
        step_produce(located, fx, network, config, processing_ts, state.watermark)
        expire(state, {m.partition for m in batch}, config, fx)
        applying = await runner.begin(fx)
        watermark = state.watermark
        metrics.batch_events.observe(len(batch))
        metrics.batch_seconds.labels("begin").observe(time.perf_counter() - started)

        async def finish() -> Durable:
            started = time.perf_counter()
            durable = await runner.finish(applying)
            metrics.last_event_timestamp.set(watermark)
            metrics.batch_seconds.labels("finish").observe(time.perf_counter() - started)
            return durable

        return finish

    async def begin_couriers(batch: list[Any]) -> Finish:
        """Sign-offs by courier: few and small; applied whole before the next batch."""
        await before_batch()
        by_partition: dict[int, dict[str, list[SignoffRecord]]] = defaultdict(dict)
        for m in batch:
            by_partition[m.partition].setdefault(m.key.decode(), []).extend(
                decode_signoffs(m.value)
            )
        for partition, incoming in by_partition.items():
            fx = step_couriers(incoming, ports.couriers, network, config, names.signoffs, partition)
            await runner.apply_couriers(fx)
        return nothing_left

    crashing: list[asyncio.Future[None]] = []

    def fail(exc: BaseException) -> None:
        """The first error stops the worker (exit 1) for its supervisor to restart."""
        if w.fatal is None:
            w.fatal = exc
            log.error("a batch failed; stopping the worker", exc_info=exc)  # the one traceback
            crashing.append(asyncio.ensure_future(app.crash(exc)))

    async def handle(begin: Begin, batch: list[Any]) -> None:
        """One batch, begun, finished and durable (tests; the intake overlaps them)."""
        await (await (await begin(batch))())

    parcel_input = batch_topic(
        app, names.scans, names.complaints, partitions=settings.partitions, maxsize=INTAKE_BUFFER
    )
    courier_input = batch_topic(
        app, names.signoffs, partitions=settings.partitions, maxsize=INTAKE_BUFFER
    )
    intake = (settings.batch_size, settings.batch_within_s)
    recovered = RecoveredTables(app)  # worker/recovered.py: input waits for the tables
    recovered.install()
    w.handle_parcels = partial(handle, begin_parcels)
    w.handle_couriers = partial(handle, begin_couriers)

    @app.task
    async def parcels_intake() -> None:
        await run_intake(app, parcel_input, begin_parcels, intake, fail, recovered)

    @app.task
    async def couriers_intake() -> None:
        await run_intake(app, courier_input, begin_couriers, intake, fail, recovered)

    async def refresh_gauges_now() -> None:  # never raises: Redis trouble is logged, counted
        gauges.refresh_stuck(metrics, state, config)
        await gauges.refresh_coverage(metrics, reader, network, config, state, health)
        await refresh_produce(metrics.produce, produce_reader, network, config, health)
        gauges.refresh_consumer_lag(metrics, app, [names.scans, names.complaints])

    refresh = gauges.SingleFlight(refresh_gauges_now)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        """Gauges as of this scrape (one refresh for overlapping scrapes and the timer)."""
        await refresh()
        return web.bytes(generate_latest(metrics.registry), content_type=METRICS_CONTENT_TYPE)

    watchdog = build_watchdog(w, [names.scans, names.complaints])  # worker/watchdog.py

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        """200 when healthy; 503 with the problems otherwise (worker/health.py)."""
        body = watchdog.report(violations_known=len(violation_log.ids), watermark=state.watermark)
        return web.json(body, status=200 if body["healthy"] else 503)

    @app.timer(interval=PROBE_INTERVAL_S)
    async def watch() -> None:  # a worker that cannot make progress exits (ADR 0012)
        await watchdog.tick()

    async def on_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        w.needs_catch_up = True

    async def on_recovered(sender: Any, *args: Any, **kwargs: Any) -> None:
        """Tables recovered after a rebalance: walk the partitions' stores (expiry_sweep.py)."""
        owned = app.assignor.assigned_actives()
        sweep.assigned(tp.partition for tp in owned if tp.topic == names.scans)

    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        """Partitions moved away: their state (and its cache) is another worker's now."""
        parcels.forget()
        couriers.forget()
        for tp in revoked:
            if tp.topic == names.scans:
                state.drop_partition(tp.partition)
        sweep.revoked(tp.partition for tp in revoked if tp.topic == names.scans)

    async def on_shutdown(sender: Any, *args: Any, **kwargs: Any) -> None:
        """Flush what the producer holds while it still runs, then close our own clients."""
        try:
            await app.producer.flush()
        except Exception as exc:  # shutting down after a crash: keep going, say why
            log.warning("could not flush the producer at shutdown: %s", exc)
        await violation_log.stop()
        await redis.aclose()

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]
    app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]
    app.on_rebalance_complete.connect(on_recovered)  # type: ignore[arg-type]
    app.on_before_shutdown.connect(on_shutdown)  # type: ignore[arg-type]

    @app.task
    async def start_violation_log() -> None:
        await violation_log.start()
        await violation_log.catch_up()
        freeze_startup_objects()  # lastmile.runtime: startup objects leave the collector
        w.ready.set()
        log.info("violation log caught up: %d violations already published", len(violation_log.ids))

    @app.timer(interval=1.0)
    async def release_holds() -> None:
        """Publish held findings whose hold is over (runner.release_due: ack, then release).

        Only while no rebalance is under way, the tables are recovered for the current
        consumer generation and the flow runs, and only if none of that changed since the
        due holds were read: a path read from a store still recovering from its changelog
        may be older than its hold.
        """
        generation = app.consumer_generation_id

        def settled() -> bool:
            return (
                w.ready.is_set()
                and app.flow_control.is_active()
                and not app.rebalancing
                and not getattr(app, "in_recovery", False)  # the flow runs during recovery
                and recovered.current()  # ... and may resume before it (worker/recovered.py)
                and app.consumer_generation_id == generation
            )

        if not settled():
            return
        owned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == names.scans}
        try:
            pending = await ports.holds.due(datetime.now(UTC).timestamp())
        except REDIS_ERRORS as exc:  # Redis down: try again at the next tick
            health.failed("release_holds", exc)
            return
        health.ok()
        try:
            mine = [d for d in pending if d.key.partition in owned]
            await runner.release_due(mine, names.scans, owned=settled)
        except Exception as exc:  # not acknowledged: the holds stay for the next tick
            log.warning("held violations not acknowledged (%s); holds kept for a retry", exc)

    @app.task
    async def watch_loop_lag() -> None:
        """How late the loop runs what is due (lastmile_event_loop_lag_seconds)."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LOOP_PROBE_S
            await asyncio.sleep(LOOP_PROBE_S)
            metrics.loop_lag.observe(max(0.0, loop.time() - due))

    @app.timer(interval=1.0)
    async def sweep_expiry() -> None:  # worker/expiry_sweep.py: a slice a tick, when settled
        recovering = (
            app.rebalancing or getattr(app, "in_recovery", False) or not recovered.current()
        )
        if not sweep.done and w.ready.is_set() and not recovering:
            sweep.step()

    @app.timer(interval=10.0)
    async def refresh_gauges() -> None:  # without scrapes too: Redis health (redis_up, /healthz)
        await refresh()

    return w


__all__ = ["Worker", "create_worker"]
