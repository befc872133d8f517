"""Knobs of ``lastmile api`` beyond lastmile.settings.Settings (CLI flags, test overrides)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"
    max_body_bytes: int = 16 * 1024  # request bodies are tiny JSON objects
    rate_per_s: float = 20.0  # token bucket per key: refill rate ...
    burst: int = 60  # ... and capacity
    sse_heartbeat_s: float = 15.0
    sse_max_streams: int = 200  # open SSE streams per process (each holds one Redis connection)
    sse_max_per_key: int = 5  # open SSE streams per API key, per process
    sse_poll_s: float = 1.0  # longest XREAD BLOCK of a stream (must stay below Redis timeouts)
    sse_revalidate_s: float = 2.0  # a revoked key's open streams close within about this
    unavailable_retry_after_s: int = 5  # Retry-After of a 503 while Redis is unavailable
    run_dispatcher: bool = True  # deliver webhooks from a background task of the API
    allow_insecure_webhooks: bool = False  # accept http://127.0.0.1 / localhost URLs (tests, demos)
    webhook_poll_s: float = 2.0
    webhook_timeout_s: float = 10.0
    webhook_backoff_base_s: float = 1.0
    webhook_backoff_max_s: float = 300.0
    webhook_lease_s: float = 60.0
