"""Webhook signatures to the Standard Webhooks scheme (https://www.standardwebhooks.com).

Headers of every delivery:
  webhook-id:        <delivery id>     (the same for every retry of one delivery)
  webhook-timestamp: <unix seconds of this attempt>
  webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>
                     (several space-separated values while a secret rotates)

The secret is ``whsec_`` + base64 of the key bytes, so a receiver verifies with an
off-the-shelf Standard Webhooks library in its language (``standardwebhooks`` in Python).

Deprecated, sent for this release only (0.1.x) so receivers written against it keep working:
  X-Lastmile-Timestamp, X-Lastmile-Delivery, and
  X-Lastmile-Signature: v1=<hex HMAC-SHA256(secret string, timestamp + "." + body)>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the scheme asks for 24 to 64 random bytes
LEGACY_SCHEME = "v1"


class LegacySecretError(ValueError):
    """A secret issued before Standard Webhooks (URL-safe alphabet): register again."""


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + standard base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret, decoded the way every Standard Webhooks library does.

    Raises LegacySecretError for a secret that is not standard base64 (the URL-safe secrets
    issued before this scheme): no off-the-shelf library would derive the same key from it.
    """
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LegacySecretError("the secret is not standard base64") from exc
    if not key:
        raise LegacySecretError("the secret is empty")
    return key


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 signature>`` of one delivery (the value of ``webhook-signature``)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def delivery_headers(secret: str, delivery_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every signature header of one delivery attempt (Standard Webhooks + the deprecated ones).

    A legacy secret gets only the deprecated headers: its carrier registers again (a new
    secret, same delivery position) to verify with a Standard Webhooks library.
    """
    headers = {
        "X-Lastmile-Delivery": delivery_id,
        "X-Lastmile-Timestamp": str(timestamp),
        "X-Lastmile-Signature": sign(secret, timestamp, body),
    }
    try:
        standard = sign_standard(secret, delivery_id, timestamp, body)
    except LegacySecretError:
        return headers
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard,
        **headers,
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Deprecated ``X-Lastmile-Signature`` value: ``v1=<hex HMAC-SHA256>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{LEGACY_SCHEME}={mac.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    header: str,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Deprecated: True if `header` holds a valid ``X-Lastmile-Signature`` of `body`.

    Receivers should verify ``webhook-signature`` with a Standard Webhooks library instead.
    """
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
        if part.strip().startswith(f"{LEGACY_SCHEME}=")
    )
