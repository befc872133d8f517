"""The Faust app: topics, tables and the two agents around the pure core.

  scans.v1 + complaints.v1 (co-partitioned by parcel_id)
      └─ agent ``parcels``: decode → fold into the parcel table → analyse → gate → publish
             ├─ invalid → scans.v1.dlq / complaints.v1.dlq (original bytes + reason headers)
             ├─ new violations → violations.v1 (key = responsible carrier)
             └─ sign-offs of inbound parcels → lastmile.signoffs-by-courier.v1 (key = courier)
  lastmile.signoffs-by-courier.v1
      └─ agent ``couriers``: courier table of sign-offs → bulk-sign-off windows → gate → publish

Agent bodies stay short: the work is in ``step`` (pure) and the adapters.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson
from faust.streams import _current_event  # partition context for table writes (see docs/decisions)
from faust.types import EventT
from mode import CrashingSupervisor
from prometheus_client import generate_latest
from redis.asyncio import Redis

from lastmile.contract.decode import InvalidMessage, decode_complaint, decode_scan
from lastmile.domain.bulk import Signoff, courier_bulk_findings
from lastmile.domain.facts import INBOUND, Destination
from lastmile.domain.findings import Finding, to_violation
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.metrics import Metrics
from lastmile.settings import Settings
from lastmile.worker.codec import (
    SignoffsCodec,
    decode_path,
    decode_signoff,
    encode_path,
    encode_signoff,
)
from lastmile.worker.projection import Projection
from lastmile.worker.step import BatchOutcome, apply_batch
from lastmile.worker.violation_log import PUBLISHER_HEADER, SOURCE_HEADER, ViolationLog

log = logging.getLogger("lastmile.worker")

SCANS, COMPLAINTS, VIOLATIONS = "scans.v1", "complaints.v1", "violations.v1"
SIGNOFFS = "lastmile.signoffs-by-courier.v1"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"
SIGNOFFS_CODEC = SignoffsCodec()


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
    app: faust.App = field(init=False)
    log: ViolationLog = field(init=False)
    redis: Redis = field(init=False)
    projection: Projection = field(init=False)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    needs_catch_up: bool = False
    watermark: float = 0.0  # newest event time seen
    open_hops: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)


def _by_partition(events: Iterable[EventT]) -> dict[int, list[EventT]]:
    groups: dict[int, list[EventT]] = defaultdict(list)
    for ev in events:
        groups[ev.message.partition].append(ev)
    return groups


def create_worker(
    settings: Settings, network: Network, config: RuleConfig, metrics: Metrics | None = None
) -> Worker:
    topics = Topics.of(settings)
    w = Worker(settings, network, config, metrics or Metrics.create(), topics)
    app = faust.App(
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
        producer_acks=-1,
        broker_commit_every=5000,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=16384,
        table_cleanup_interval=3600.0,
        consumer_auto_offset_reset="earliest",
    )
    w.app = app
    w.redis = Redis.from_url(settings.redis_url)
    w.projection = Projection(w.redis, network, settings.redis_prefix, config.retention_days)
    w.log = ViolationLog(settings.kafka_bootstrap, topics.violations, w.projection.violations)
    worker_id = settings.worker_id
    w.metrics.watch_violations(lambda: w.log.totals(worker_id))

    raw = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    inputs = app.topic(topics.scans, topics.complaints, partitions=settings.partitions, **raw)
    signoff_topic = app.topic(topics.signoffs, partitions=settings.partitions, **raw)
    violation_topic = app.topic(topics.violations, partitions=settings.partitions, **raw)
    dlq_topics = {
        t: app.topic(topics.dlq(t), partitions=settings.partitions, **raw)
        for t in (topics.scans, topics.complaints)
    }
    # Values are stored as our own bytes (codec.py) so every store (memory://, rocksdb://)
    # and the changelog hold the same thing.
    # (Faust derives the serializers from the types: str keys → json, bytes values → raw.)
    table_args: dict[str, Any] = {
        "default": None,
        "partitions": settings.partitions,
        "key_type": str,
        "value_type": bytes,
    }
    parcels = app.Table("parcels", **table_args)
    couriers = app.Table("couriers", **table_args)

    def stored_path(parcel_id: str) -> Any:
        data = parcels.get(parcel_id)
        return None if data is None else decode_path(data)

    async def publish(findings: Iterable[tuple[Finding, Destination, str, str]]) -> int:
        """The idempotent gate: publish each violation that violations.v1 does not hold yet."""
        n = 0
        now = _utcnow()
        for finding, dest, contract_carrier, source in findings:
            if not w.log.claim(finding.violation_id):
                continue
            v = to_violation(finding, dest, contract_carrier, config, now)
            await violation_topic.send(
                key=v["carrier"].encode(),
                value=orjson.dumps(v),
                headers=[(SOURCE_HEADER, source.encode()), (PUBLISHER_HEADER, worker_id.encode())],
            )
            n += 1
        return n

    async def before_batch() -> None:
        await w.ready.wait()
        if w.needs_catch_up:  # a rebalance: see what other workers published first
            w.needs_catch_up = False
            await w.log.catch_up()

    # a bug in processing must stop the worker (and let its supervisor restart it), never
    # leave a live process that consumes nothing
    @app.agent(inputs, name="parcels", supervisor_strategy=CrashingSupervisor)
    async def process_parcels(stream: faust.StreamT[bytes]) -> Any:
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            await before_batch()
            for partition, events in _by_partition(batch).items():
                _current_event.set(weakref.ref(events[-1]))  # table writes go to this partition
                decoded, dead = _decode(events, topics)
                for topic, ev, exc in dead:
                    await dlq_topics[topic].send(
                        key=ev.message.key,
                        value=ev.message.value,
                        headers=[
                            ("lastmile-reason", exc.reason.encode()),
                            ("lastmile-detail", exc.detail.encode()),
                            (
                                "lastmile-offset",
                                f"{topic}:{partition}:{ev.message.offset}".encode(),
                            ),
                        ],
                    )
                    w.metrics.invalid_messages.labels(topic, exc.reason).inc()
                outcome, to_store, signoffs = apply_batch(decoded, stored_path, network, config)
                for pid, path in to_store.items():
                    parcels[pid] = encode_path(path)
                for s, analysis, _ in signoffs:
                    village = analysis.dest.village
                    assert village is not None
                    await signoff_topic.send(
                        key=s.courier_id.encode(),
                        value=encode_signoff(
                            s, village.town, village.remote, analysis.contract_carrier or s.carrier
                        ),
                    )
                await publish(
                    (f, a.dest, a.contract_carrier or f.carrier, f"{src[0]}:{src[1]}")
                    for f, a, src in outcome.findings()
                )
                await w.projection.batch(outcome)
                _count(w, outcome, events, topics)

    @app.agent(signoff_topic, name="couriers", supervisor_strategy=CrashingSupervisor)
    async def process_couriers(stream: faust.StreamT[bytes]) -> Any:
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            await before_batch()
            for partition, events in _by_partition(batch).items():
                _current_event.set(weakref.ref(events[-1]))
                incoming: dict[str, list[Any]] = defaultdict(list)
                for ev in events:
                    incoming[ev.message.key.decode()].append(decode_signoff(ev.message.value))
                found: list[tuple[Finding, Destination, str, str]] = []
                for courier, new in incoming.items():
                    old = couriers.get(courier)
                    records = _merge_signoffs(SIGNOFFS_CODEC.loads(old) if old else [], new, config)
                    couriers[courier] = SIGNOFFS_CODEC.dumps(records)
                    for finding, rec in _bulk_near(records, new, config):
                        cc = rec[3]
                        village = network.village(rec[0].village)
                        found.append(
                            (
                                finding,
                                Destination(village, None, None, INBOUND),
                                cc,
                                f"{topics.signoffs}:{partition}",
                            )
                        )
                await publish(found)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        _refresh_gauges(w)
        return web.bytes(generate_latest(w.metrics.registry), content_type=METRICS_CONTENT_TYPE)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json(
            {
                "ready": w.ready.is_set(),
                "violations_known": len(w.log.ids),
                "watermark": w.watermark,
            }
        )

    @app.on_partitions_assigned.connect
    async def _assigned(app: Any, assigned: Any = None, **kwargs: Any) -> None:
        w.needs_catch_up = True

    @app.task
    async def _start_log() -> None:
        await w.log.start()
        await w.log.catch_up()
        w.ready.set()
        log.info("violation log caught up: %d violations already published", len(w.log.ids))

    @app.timer(interval=10.0)
    async def _gauges() -> None:
        await _refresh_coverage(w)
        await _refresh_consumer_lag(w, [topics.scans, topics.complaints])

    @app.on_before_shutdown.connect
    async def _shutdown(app: Any, **kwargs: Any) -> None:
        await w.log.stop()
        await w.redis.aclose()

    return w


def _utcnow() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _decode(events: Sequence[EventT], topics: Topics) -> tuple[list[Any], list[Any]]:
    decoded, dead = [], []
    for ev in events:
        msg = ev.message
        try:
            e = decode_scan(msg.value) if msg.topic == topics.scans else decode_complaint(msg.value)
        except InvalidMessage as exc:
            dead.append((msg.topic, ev, exc))
            continue
        decoded.append((e, (msg.topic, msg.partition)))
    return decoded, dead


def _merge_signoffs(old: list[Any], new: list[Any], config: RuleConfig) -> list[Any]:
    """A courier's sign-offs, distinct by event id, sorted, pruned to the retention period."""
    merged = {rec[0].event_id: rec for rec in old}
    for rec in new:
        merged.setdefault(rec[0].event_id, rec)
    records = sorted(merged.values(), key=lambda r: (r[0].ts, r[0].event_id))
    horizon = records[-1][0].ts - config.retention_days * 86400
    return [r for r in records if r[0].ts >= horizon]


def _bulk_near(records: list[Any], new: list[Any], config: RuleConfig) -> list[tuple[Finding, Any]]:
    """Bulk findings in the windows that can hold a new sign-off (± the window length)."""
    from bisect import bisect_left, bisect_right

    times = [r[0].ts for r in records]
    span = config.bulk_window_s
    by_parcel: dict[str, Any] = {}
    seen: set[tuple[int, int]] = set()
    for rec in new:
        lo = bisect_left(times, rec[0].ts - span)
        hi = bisect_right(times, rec[0].ts + span)
        if (lo, hi) in seen:
            continue
        seen.add((lo, hi))
        window = records[lo:hi]
        signoffs: list[Signoff] = [r[0] for r in window]
        meta = {r[0].parcel_id: r for r in window}
        for parcel_id, finding in courier_bulk_findings(signoffs, config).items():
            by_parcel.setdefault(parcel_id, (finding, meta[parcel_id]))
    return list(by_parcel.values())


def _count(w: Worker, outcome: BatchOutcome, events: Sequence[EventT], topics: Topics) -> None:
    m = w.metrics
    net = w.network
    now = time.time()
    per_topic = Counter(ev.message.topic for ev in events)
    for topic, n in per_topic.items():
        m.events_processed.labels(topic).inc(n)
    scan_counts: Counter[tuple[str, str, str]] = Counter()
    newest = w.watermark
    for u in outcome.updates:
        a = u.analysis
        village = a.dest.village
        town = village.town if village else "unknown"
        for s in u.new_scans:
            scan_counts[(s.type, s.carrier, net.tier_of(s.node_id) or "unknown")] += 1
            newest = max(newest, s.ts)
            m.processing_lag.observe(max(0.0, now - s.ts))
        for c in u.new_complaints:
            m.complaints.labels(c.category, town).inc()  # type: ignore[union-attr]
        for h in u.finished_hops:
            if h.dwell_s is not None:
                m.dwell_hours.labels(h.tier).observe(h.dwell_s / 3600)
        d = u.first_delivery
        if d is not None and village is not None:
            m.deliveries.labels(d.carrier, town, str(village.remote).lower()).inc()
            if u.end_to_end_h is not None:
                m.end_to_end_hours.labels(d.carrier, town).observe(u.end_to_end_h)
                if u.end_to_end_h <= w.config.on_time_hours:
                    m.delivered_within_72h.labels(d.carrier, town).inc()
        _track_open_hop(w, u)
    for (t, carrier, tier), n in scan_counts.items():
        m.scan_events.labels(t, carrier, tier).inc(n)
    if newest > w.watermark:
        w.watermark = newest
        m.last_event_timestamp.set(newest)


def _track_open_hop(w: Worker, u: Any) -> None:
    """Remember where each unfinished inbound parcel waits (for the stuck-parcel gauge)."""
    a = u.analysis
    pid = a.path.parcel_id
    finished = any(s.type in ("delivered", "returned") for s in a.path.scans)
    if finished or not a.inbound or not a.path.scans:
        w.open_hops.pop(pid, None)
        return
    last = next((s for s in reversed(a.path.scans) if s.node_id), None)
    if last is None:
        return
    tier = w.network.tier_of(last.node_id) or "unknown"
    first_at_node = last.ts
    for s in reversed(a.path.scans):
        if s.node_id == last.node_id:
            first_at_node = s.ts
        elif s.node_id is not None:
            break
    town = a.dest.village.town if a.dest.village else "unknown"
    w.open_hops[pid] = (tier, town, first_at_node)


def _refresh_gauges(w: Worker) -> None:
    limit = w.watermark - w.config.stuck_hours * 3600
    stuck: Counter[tuple[str, str]] = Counter()
    for tier, town, since in w.open_hops.values():
        if since < limit:
            stuck[(tier, town)] += 1
    w.metrics.stuck_parcels.clear()
    for (tier, town), n in stuck.items():
        w.metrics.stuck_parcels.labels(tier, town).set(n)


async def _refresh_coverage(w: Worker) -> None:
    """Coverage (通达率) and brand fusion per town, from the shared Redis read model."""
    now = w.watermark or time.time()
    since = now - w.config.coverage_days * 86400
    p = w.settings.redis_prefix
    m = w.metrics
    try:
        pipe = w.redis.pipeline(transaction=False)
        codes = list(w.network.towns)
        for code in codes:
            pipe.zcount(f"{p}:reached:{code}", since, now)
            pipe.zcount(f"{p}:brands:{code}", since, now)
        counts = await pipe.execute()
    except Exception:
        log.exception("coverage refresh from Redis failed")
        return
    for i, code in enumerate(codes):
        reached, brands = counts[2 * i], counts[2 * i + 1]
        total = len(w.network.villages_of(code))
        m.villages.labels(code).set(total)
        m.villages_reached.labels(code).set(reached)
        m.village_coverage.labels(code).set(reached / total if total else 0)
        m.town_brands.labels(code).set(brands)
        m.town_info.labels(code, w.network.towns[code].name).set(1)


async def _refresh_consumer_lag(w: Worker, topics: list[str]) -> None:
    consumer = w.app.consumer
    lag: Counter[str] = Counter()
    try:
        for tp in w.app.assignor.assigned_actives():
            if tp.topic not in topics:
                continue
            high = consumer.highwater(tp)
            committed = consumer._committed_offset.get(tp)
            if high is not None:
                lag[tp.topic] += max(0, high - (committed or 0))
    except Exception:
        log.debug("consumer lag unavailable", exc_info=True)
        return
    for topic in topics:
        w.metrics.consumer_lag.labels(topic).set(lag.get(topic, 0))
