"""Webhook registrations, delivery state and the delivery log (one endpoint per carrier).

Keys (prefix p):
  {p}:api:wh:carriers          set    carriers with a registration (the dispatcher's work list)
  {p}:api:wh:{carrier}         hash   id, url, secret, created_at (the secret is needed to sign)
  {p}:api:wh:cursor:{carrier}  string id of the last {p}:vs entry handled for the carrier
  {p}:api:wh:state:{carrier}   hash   status (ok|retrying), attempts, last_error, last_attempt_at,
                                      last_success_at, failing_since, pending_delivery
  {p}:api:wh:log:{carrier}     stream one entry per attempt (capped at ~10,000)
  {p}:api:wh:lock:{carrier}    string lease: the one dispatcher delivering for the carrier
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from lastmile.api.egress import ERROR_CLASSES, check_url
from lastmile.api.errors import invalid
from lastmile.api.signing import new_secret
from lastmile.readmodel.keys import Keys

LOG_MAXLEN = 10_000


def validate_url(url: object, allow_insecure: bool = False) -> str:
    """An https URL to a public host (see lastmile.api.egress); raises a 422 ApiError otherwise.

    With `allow_insecure` (development only) plain http and loopback hosts are accepted.
    """
    if not isinstance(url, str) or not 1 <= len(url) <= 2048:
        raise invalid("url must be a string of at most 2048 characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise invalid("url must not contain whitespace or control characters")
    why = check_url(url, allow_insecure)
    if why is not None:
        raise invalid(why)
    return url


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class WebhookStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.p = prefix

    def key(self, kind: str, carrier: str) -> str:
        return Keys(self.p).webhook(carrier, kind)

    @property
    def carriers_key(self) -> str:
        return Keys(self.p).webhook_carriers

    async def register(self, carrier: str, url: str, replay: bool) -> dict[str, Any]:
        """Register or replace the carrier's endpoint; a new secret each time (returned once).

        The delivery cursor of an existing registration is kept (nothing is lost by
        re-registering); a first registration starts at the stream's tail, or at its
        beginning when `replay` is set.
        """
        tail = await self.redis.xrevrange(Keys(self.p).violation_stream, count=1)
        start = "0-0" if replay or not tail else tail[0][0]
        reg = {
            "id": "wh_" + secrets.token_hex(6),
            "url": url,
            "secret": new_secret(),
            "created_at": _now(),
        }
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.key("", carrier), mapping=reg)
        if replay:
            pipe.set(self.key("cursor", carrier), start)
        else:
            pipe.set(self.key("cursor", carrier), start, nx=True)
        pipe.sadd(self.carriers_key, carrier)
        await pipe.execute()
        return reg

    async def get(self, carrier: str) -> dict[str, Any] | None:
        reg = await self.redis.hgetall(self.key("", carrier))  # type: ignore[misc]
        return reg or None

    async def status(self, carrier: str) -> dict[str, Any] | None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.key("", carrier))
        pipe.get(self.key("cursor", carrier))
        pipe.hgetall(self.key("state", carrier))
        reg, cursor, state = await pipe.execute()
        if not reg:
            return None
        return {
            "id": reg["id"],
            "url": reg["url"],
            "created_at": reg["created_at"],
            "cursor": cursor,
            "status": state.get("status", "ok"),
            "attempts": int(state.get("attempts", 0)),
            "last_error": public_error(state.get("last_error")),
            "last_attempt_at": state.get("last_attempt_at"),
            "last_success_at": state.get("last_success_at"),
            "failing_since": state.get("failing_since"),
            "pending_delivery": state.get("pending_delivery"),
        }

    async def all(self) -> list[dict[str, Any]]:
        """Every carrier's registration and state (the regulator's view), by carrier."""
        carriers = sorted(await self.redis.smembers(self.carriers_key))  # type: ignore[misc]
        out = []
        for carrier in carriers:
            st = await self.status(carrier)
            if st is not None:
                out.append({"carrier": carrier, **st})
        return out

    async def delete(self, carrier: str) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.key("", carrier))
        pipe.delete(self.key("cursor", carrier), self.key("state", carrier))
        pipe.srem(self.carriers_key, carrier)
        removed, *_ = await pipe.execute()
        return bool(removed)

    async def record(self, carrier: str, entry: dict[str, Any], state: dict[str, Any]) -> None:
        """Append one attempt to the delivery log and update the endpoint's state."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(
            self.key("log", carrier),
            {k: "" if v is None else str(v) for k, v in entry.items()},
            maxlen=LOG_MAXLEN,
            approximate=True,
        )
        pipe.hset(
            self.key("state", carrier),
            mapping={k: "" if v is None else str(v) for k, v in state.items()},
        )
        await pipe.execute()

    async def log(
        self, carrier: str, limit: int, before: str | None, outcome: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest attempts first; the cursor is the last log entry id returned."""
        key = self.key("log", carrier)
        items: list[dict[str, Any]] = []
        if before is not None and before.strip("0-") == "":
            return items, None  # nothing precedes 0-0
        hi = "+" if before is None else f"({before}"
        while len(items) < limit:
            rows = await self.redis.xrevrange(key, max=hi, min="-", count=limit)
            if not rows:
                return items, None
            for entry_id, fields in rows:
                hi = f"({entry_id}"
                if outcome is None or fields.get("outcome") == outcome:
                    items.append(_log_item(entry_id, fields))
                    if len(items) == limit:
                        return items, entry_id
            if len(rows) < limit:
                return items, None
        return items, None


def _log_item(entry_id: str, f: dict[str, str]) -> dict[str, Any]:
    return {
        "log_id": entry_id,
        "delivery_id": f.get("delivery_id"),
        "violation_id": f.get("violation_id"),
        "attempt": int(f.get("attempt") or 0),
        "outcome": f.get("outcome"),
        "status_code": int(f["status_code"]) if f.get("status_code") else None,
        "error": public_error(f.get("error")),
        "duration_ms": float(f["duration_ms"]) if f.get("duration_ms") else None,
        "at": f.get("at"),
        "next_retry_at": f.get("next_retry_at") or None,
    }


def public_error(stored: str | None) -> str | None:
    """The error as shown to the carrier: an HTTP status or an error class, nothing else.

    Entries written before error classes existed held socket text; they read as a class.
    """
    if not stored:
        return None
    if stored in ERROR_CLASSES or (stored.startswith("HTTP ") and stored[5:].isdigit()):
        return stored
    return "delivery error"
