"""Metrics: every Prometheus metric of the project, built in one place on a given registry.

Label sets are bounded: carrier, town, type, rule, tier, remote, reason, topic, category;
never a parcel, courier or village id. Buckets of the time histograms sit around the
programme's 24/48/72-hour boundaries. docs/metrics.md documents each metric.

Durations are exported in seconds, Prometheus's base unit (``promtool check metrics``
rejects a metric named ``..._hours``), while the worker measures delivery and dwell times in
hours, as the programme states them: ``end_to_end_hours`` and ``dwell_hours`` take hours
and record seconds, and their buckets are the hour boundaries times 3600.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

HOUR_S = 3600.0
E2E_BUCKETS_H = (6, 12, 24, 36, 48, 60, 72, 96, 120, 168)
DWELL_BUCKETS_H = (1, 2, 4, 8, 12, 24, 36, 48, 72, 120)
E2E_BUCKETS = tuple(h * HOUR_S for h in E2E_BUCKETS_H)  # seconds
DWELL_BUCKETS = tuple(h * HOUR_S for h in DWELL_BUCKETS_H)  # seconds
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
BATCH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
BATCH_EVENTS_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000)

VIOLATION_LABELS = ("type", "rule", "carrier", "town", "remote")
ViolationCounts = Callable[[], Iterable[tuple[tuple[str, ...], int]]]


class ViolationsCollector(Collector):
    """lastmile_violations_total, read from the published-violation log at scrape time.

    The count is derived from what is durably on ``violations.v1`` for the partitions
    this worker owns, so a restart or a replay never counts a violation twice and a
    restarted worker reports the same totals it had before.
    """

    def __init__(self, source: ViolationCounts) -> None:
        self._source = source

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "lastmile_violations",
            "Violations published, by type, rule, responsible carrier, town and remote flag.",
            labels=VIOLATION_LABELS,
        )
        for labels, count in self._source():
            family.add_metric(list(labels), count)
        yield family

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily("lastmile_violations", "", labels=VIOLATION_LABELS)


class _HoursChild:
    def __init__(self, child: Histogram) -> None:
        self._child = child

    def observe(self, hours: float) -> None:
        self._child.observe(hours * HOUR_S)


class HoursHistogram:
    """A histogram exported in seconds and fed in hours (``.labels(...).observe(hours)``)."""

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram

    def labels(self, *values: str) -> _HoursChild:
        return _HoursChild(self.histogram.labels(*values))


@dataclass(frozen=True)
class ProduceMetrics:
    """Contract §7: outbound farm produce (农产品上行) and data quality.

    Per-carrier counters move with each batch; per-town gauges are recomputed from the
    Redis read model (so every worker reports the county's figures). Which points are
    silent and which parcels stalled is per-point and per-parcel detail: the reviews and
    the read model name them, never a label.
    """

    signoffs_without_location: Counter
    scans_clock_skewed: Counter
    repeated_events: Counter
    invalid_by_carrier: Counter
    outbound_parcels: Gauge
    outbound_perishable: Gauge
    perishable_stalled: Gauge
    perishable_stalled_ever: Gauge
    perishable_out_ratio: Gauge
    first_mile_median: Gauge
    first_mile_p90: Gauge
    silent_points: Gauge

    @classmethod
    def create(cls, r: CollectorRegistry) -> ProduceMetrics:
        def town_gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, ("town",), registry=r)

        return cls(
            signoffs_without_location=Counter(
                "lastmile_signoffs_without_location",
                "Distinct delivered scans without a location, by carrier.",
                ("carrier",),
                registry=r,
            ),
            scans_clock_skewed=Counter(
                "lastmile_scans_clock_skewed",
                "Distinct scans dated more than clock_skew_s ahead of processing time.",
                ("carrier",),
                registry=r,
            ),
            repeated_events=Counter(
                "lastmile_repeated_events",
                "Scan messages whose event_id was already known (producer retries).",
                ("carrier",),
                registry=r,
            ),
            invalid_by_carrier=Counter(
                "lastmile_invalid_scans_by_carrier",
                "Invalid scan messages by the carrier they name (or unknown) and reason.",
                ("carrier", "reason"),
                registry=r,
            ),
            outbound_parcels=town_gauge(
                "lastmile_outbound_parcels", "Outbound produce parcels collected (retention)."
            ),
            outbound_perishable=town_gauge(
                "lastmile_outbound_perishable_parcels", "Of them perishable."
            ),
            perishable_stalled=town_gauge(
                "lastmile_perishable_stalled_parcels",
                "Perishable outbound parcels stalled now (no movement > 12 h, inside the county).",
            ),
            perishable_stalled_ever=town_gauge(
                "lastmile_perishable_stalled_ever_parcels",
                "Perishable outbound parcels that ever stalled (retention).",
            ),
            perishable_out_ratio=town_gauge(
                "lastmile_perishable_out_within_target_ratio",
                "Share of perishable parcels out of the county within 24 h of collection.",
            ),
            first_mile_median=town_gauge(
                "lastmile_first_mile_median_seconds",
                "Median collection to leaving the county, seconds.",
            ),
            first_mile_p90=town_gauge(
                "lastmile_first_mile_p90_seconds",
                "90th percentile of collection to leaving the county, seconds.",
            ),
            silent_points=town_gauge(
                "lastmile_silent_village_points", "Village points with no scan for 7 days."
            ),
        )


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    deliveries: Counter
    scan_events: Counter
    invalid_messages: Counter
    complaints: Counter
    end_to_end_hours: HoursHistogram
    delivered_within_72h: Counter
    dwell_hours: HoursHistogram
    stuck_parcels: Gauge
    village_coverage: Gauge
    villages: Gauge
    villages_reached: Gauge
    town_brands: Gauge
    town_info: Gauge
    processing_lag: Histogram
    batch_seconds: Histogram
    batch_events: Histogram
    loop_lag: Histogram
    consumer_lag: Gauge
    events_processed: Counter
    last_event_timestamp: Gauge
    redis_up: Gauge
    redis_errors: Counter
    produce: ProduceMetrics
    kafka_up: Gauge
    violation_log_behind: Gauge
    health_check: Gauge
    state_parcels: Gauge
    rocksdb_memory: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> Metrics:
        """Build every metric on ``registry`` (a fresh one when None; never the global one)."""
        disable_created_metrics()  # *_created series only add noise to regulators' dashboards
        r = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=r,
            deliveries=Counter(
                "lastmile_deliveries",
                "Inbound parcels signed off (first sign-off).",
                ("carrier", "town", "remote"),
                registry=r,
            ),
            scan_events=Counter(
                "lastmile_scan_events",
                "Valid scan events processed.",
                ("type", "carrier", "tier"),
                registry=r,
            ),
            invalid_messages=Counter(
                "lastmile_invalid_messages",
                "Invalid messages sent to the dead-letter topic.",
                ("topic", "reason"),
                registry=r,
            ),
            complaints=Counter(
                "lastmile_complaints",
                "Complaints from the 12305 line.",
                ("category", "town"),
                registry=r,
            ),
            end_to_end_hours=HoursHistogram(
                Histogram(
                    "lastmile_end_to_end_seconds",
                    "First county-centre arrival to sign-off, seconds.",
                    ("carrier", "town"),
                    buckets=E2E_BUCKETS,
                    registry=r,
                )
            ),
            delivered_within_72h=Counter(
                "lastmile_delivered_within_72h",
                "Sign-offs within 72 h of county arrival.",
                ("carrier", "town"),
                registry=r,
            ),
            dwell_hours=HoursHistogram(
                Histogram(
                    "lastmile_dwell_seconds",
                    "Time a parcel stays at one facility, seconds.",
                    ("tier",),
                    buckets=DWELL_BUCKETS,
                    registry=r,
                )
            ),
            stuck_parcels=Gauge(
                "lastmile_stuck_parcels",
                "Parcels at one node for more than 48 h.",
                ("tier", "town"),
                registry=r,
            ),
            village_coverage=Gauge(
                "lastmile_village_coverage_ratio",
                "Share of a town's villages with a delivery in the last 30 days (通达率).",
                ("town",),
                registry=r,
            ),
            villages=Gauge("lastmile_villages", "Villages of a town.", ("town",), registry=r),
            villages_reached=Gauge(
                "lastmile_villages_reached",
                "Villages of a town with a delivery in 30 days.",
                ("town",),
                registry=r,
            ),
            town_brands=Gauge(
                "lastmile_town_brands",
                "Distinct carriers scanning at the town centre in 30 days (brand fusion).",
                ("town",),
                registry=r,
            ),
            town_info=Gauge(
                "lastmile_town_info", "Town display names.", ("town", "name"), registry=r
            ),
            processing_lag=Histogram(
                "lastmile_processing_lag_seconds",
                "Event time to processed, seconds.",
                buckets=LAG_BUCKETS,
                registry=r,
            ),
            batch_seconds=Histogram(
                "lastmile_batch_seconds",
                "Time of each step of an input batch: begin (decode, fold, judge, hand the "
                "effects over), finish (the rest), and within finish: acks (waiting for the "
                "broker's and Redis's acknowledgements), store (the paths and their changelog).",
                ("step",),
                buckets=BATCH_SECONDS_BUCKETS,
                registry=r,
            ),
            batch_events=Histogram(
                "lastmile_batch_events",
                "Messages per input batch (scans and complaints).",
                buckets=BATCH_EVENTS_BUCKETS,
                registry=r,
            ),
            loop_lag=Histogram(
                "lastmile_event_loop_lag_seconds",
                "How late the worker's event loop ran a task that was due: a long step of "
                "CPU work holds up every reply from Kafka and Redis by as much.",
                buckets=BATCH_SECONDS_BUCKETS,
                registry=r,
            ),
            consumer_lag=Gauge(
                "lastmile_consumer_lag_messages",
                "Messages behind the end of the input topics.",
                ("topic",),
                registry=r,
            ),
            events_processed=Counter(
                "lastmile_events_processed",
                "Messages consumed, valid or not.",
                ("topic",),
                registry=r,
            ),
            last_event_timestamp=Gauge(
                "lastmile_last_event_timestamp_seconds",
                "Event time of the newest event processed.",
                registry=r,
            ),
            redis_up=Gauge(
                "lastmile_redis_up",
                "1 when the worker's last Redis call answered, 0 while Redis is unreachable.",
                registry=r,
            ),
            redis_errors=Counter(
                "lastmile_redis_errors",
                "Redis calls that failed (and were retried or skipped), by operation.",
                ("operation",),
                registry=r,
            ),
            produce=ProduceMetrics.create(r),
            kafka_up=Gauge(
                "lastmile_kafka_up",
                "1 when the broker answered the worker's last probe (every 5 s), else 0.",
                registry=r,
            ),
            violation_log_behind=Gauge(
                "lastmile_violation_log_behind_messages",
                "Records on violations.v1 the worker's violation log has not mirrored yet.",
                registry=r,
            ),
            health_check=Gauge(
                "lastmile_health_check",
                "1 while a health check passes, 0 while it fails "
                "(kafka, redis, lag, violation_log, progress; see /healthz).",
                ("check",),
                registry=r,
            ),
            state_parcels=Gauge(
                "lastmile_state_parcels",
                "Parcels in this worker's state that retention will drop (its expiry index).",
                registry=r,
            ),
            rocksdb_memory=Gauge(
                "lastmile_rocksdb_memory_bytes",
                "Memory of the worker's RocksDB table stores (block cache, index and filter "
                "blocks, memtables), bounded by LASTMILE_ROCKSDB_MEMORY_MB.",
                registry=r,
            ),
        )

    def watch_violations(self, source: ViolationCounts) -> None:
        """Expose lastmile_violations_total from the published-violation log."""
        self.registry.register(ViolationsCollector(source))


@dataclass(frozen=True)
class RouterMetrics:
    """Metrics of ``lastmile router`` (violations.v1 → violations.v1.<CARRIER>)."""

    registry: CollectorRegistry
    copied: Counter
    dead_letters: Counter
    topics_created: Counter
    last_copy_timestamp: Gauge
    lag: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> RouterMetrics:
        r = registry if registry is not None else CollectorRegistry()
        disable_created_metrics()
        return cls(
            registry=r,
            copied=Counter(
                "lastmile_router_records",
                "Violation records copied to their carrier's topic (acknowledged), by carrier.",
                ("carrier",),
                registry=r,
            ),
            dead_letters=Counter(
                "lastmile_router_dead_letters",
                "Records sent to the router's dead-letter topic, by reason.",
                ("reason",),
                registry=r,
            ),
            topics_created=Counter(
                "lastmile_router_topics_created",
                "Carrier topics the router created.",
                registry=r,
            ),
            last_copy_timestamp=Gauge(
                "lastmile_router_last_copy_timestamp_seconds",
                "Wall-clock time of the router's last acknowledged batch.",
                registry=r,
            ),
            lag=Gauge(
                "lastmile_router_lag_records",
                "Records of violations.v1 on the router's partitions not copied yet.",
                registry=r,
            ),
        )
