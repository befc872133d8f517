"""Webhook signatures: HMAC-SHA256 over ``timestamp + "." + body`` with the carrier's secret.

Headers of every delivery:
  X-Lastmile-Timestamp: <unix seconds>
  X-Lastmile-Signature: v1=<hex digest>   (several comma-separated values while a secret rotates)
  X-Lastmile-Delivery:  <delivery id>     (the same for every retry of one delivery)

Receivers call :func:`verify_signature`; it refuses a timestamp outside the tolerance
window, so a captured request cannot be replayed later (dedup by delivery id within it).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    header: str,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """True if `header` holds a valid v1 signature of `body` made within `tolerance_s` of now."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    expected = sign(secret, ts, body)
    return any(
        hmac.compare_digest(expected.encode(), part.strip().encode())
        for part in (header or "").split(",")
        if part.strip().startswith(f"{SCHEME}=")
    )
