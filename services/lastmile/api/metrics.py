"""Prometheus metrics of the API and its webhook dispatcher, on a registry passed in.

Labels are bounded: route templates, methods, status codes, carrier codes, outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class ApiMetrics:
    registry: CollectorRegistry
    requests: Counter
    rate_limited: Counter
    sse_clients: Gauge
    deliveries: Counter
    delivery_seconds: Histogram
    webhook_failing: Gauge
    webhook_lag_seconds: Gauge


def api_metrics(registry: CollectorRegistry) -> ApiMetrics:
    return ApiMetrics(
        registry=registry,
        requests=Counter(
            "lastmile_api_requests",
            "API requests by route template, method and status.",
            ("route", "method", "status"),
            registry=registry,
        ),
        rate_limited=Counter(
            "lastmile_api_rate_limited",
            "Requests refused with 429, by role.",
            ("role",),
            registry=registry,
        ),
        sse_clients=Gauge(
            "lastmile_api_sse_clients",
            "Open Server-Sent Events streams.",
            registry=registry,
        ),
        deliveries=Counter(
            "lastmile_webhook_deliveries",
            "Webhook delivery attempts by carrier and outcome (delivered, failed).",
            ("carrier", "outcome"),
            registry=registry,
        ),
        delivery_seconds=Histogram(
            "lastmile_webhook_delivery_seconds",
            "Duration of webhook delivery attempts.",
            ("carrier",),
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        ),
        webhook_failing=Gauge(
            "lastmile_webhook_failing",
            "1 while the carrier's endpoint is failing and a delivery is being retried.",
            ("carrier",),
            registry=registry,
        ),
        webhook_lag_seconds=Gauge(
            "lastmile_webhook_lag_seconds",
            "Age of the oldest violation not yet delivered to the carrier (0 when caught up).",
            ("carrier",),
            registry=registry,
        ),
    )
