"""API keys: issued once, stored only as SHA-256 hashes, looked up per request.

A key is ``lmk_`` + 32 random bytes (256 bits, URL-safe base64). With that much entropy a
plain SHA-256 is enough: nobody can brute-force a 256-bit preimage, so a pepper or a slow
hash (which protect low-entropy passwords) would add a secret to manage and nothing else.
Redis therefore never holds a usable key.

Keys (prefix p):
  {p}:api:key:{sha256}   string JSON {id, role, carrier, created_at, label}: the live key
  {p}:api:keys           hash   key id -> JSON {hash, role, carrier, created_at, label, revoked_at}
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from redis.asyncio import Redis

from lastmile.readmodel.keys import Keys

KEY_PREFIX = "lmk_"
KEY_RE = re.compile(r"lmk_[A-Za-z0-9_-]{43}")  # use fullmatch: "$" would allow a "\n"
CARRIER_RE = re.compile(r"[A-Za-z0-9_.-]{1,16}")
Role = Literal["carrier", "regulator"]


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def bearer_token(header: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None if malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not KEY_RE.fullmatch(token):
        return None
    return token


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    role: Role
    carrier: str | None  # set for carrier keys only

    @property
    def is_regulator(self) -> bool:
        return self.role == "regulator"


class KeyStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.p = prefix

    def _live(self, digest: str) -> str:
        return Keys(self.p).api_key(digest)

    @property
    def _index(self) -> str:
        return Keys(self.p).api_keys

    async def issue(
        self, role: Role, carrier: str | None = None, label: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A new key and its record; the key itself is returned here and never stored."""
        if role == "carrier":
            if not carrier or not CARRIER_RE.fullmatch(carrier):
                raise ValueError(
                    "a carrier key needs a carrier code of 1-16 letters, digits, '_', '.', '-'"
                )
        elif carrier is not None:
            raise ValueError("a regulator key has no carrier")
        key = new_key()
        digest = hash_key(key)
        record = {
            "id": "k_" + secrets.token_hex(6),
            "role": role,
            "carrier": carrier,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "label": label,
        }
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self._live(digest), orjson.dumps(record))
        pipe.hset(
            self._index,
            record["id"],
            orjson.dumps({**record, "hash": digest, "revoked_at": None}).decode(),
        )
        await pipe.execute()
        return key, record

    async def lookup(self, key: str) -> Principal | None:
        raw = await self.redis.get(self._live(hash_key(key)))
        if raw is None:
            return None
        rec = orjson.loads(raw)
        return Principal(rec["id"], rec["role"], rec.get("carrier"))

    async def is_live(self, key: str) -> bool:
        """Whether `key` is still a live (issued, not revoked) key."""
        return KEY_RE.fullmatch(key) is not None and bool(
            await self.redis.exists(self._live(hash_key(key)))
        )

    async def carrier_has_live_key(self, carrier: str) -> bool:
        """Whether any key of `carrier` is live (webhooks stop for a carrier without one)."""
        for raw in (await self.redis.hgetall(self._index)).values():  # type: ignore[misc]
            rec = orjson.loads(raw)
            live = rec.get("carrier") == carrier and rec.get("revoked_at") is None
            if live and await self.redis.exists(self._live(rec["hash"])):
                return True
        return False

    async def list(self) -> list[dict[str, Any]]:
        rows = await self.redis.hgetall(self._index)  # type: ignore[misc]
        out = [orjson.loads(v) for v in rows.values()]
        for r in out:
            r.pop("hash", None)
        return sorted(out, key=lambda r: (r["created_at"], r["id"]))

    async def revoke(self, key_or_id: str) -> dict[str, Any] | None:
        """Revoke by the key itself or by its id; the revoked record, or None if unknown."""
        if key_or_id.startswith(KEY_PREFIX):
            digest = hash_key(key_or_id)
            key_id = None
            for kid, raw in (await self.redis.hgetall(self._index)).items():  # type: ignore[misc]
                if orjson.loads(raw)["hash"] == digest:
                    key_id = kid
                    break
        else:
            key_id = key_or_id
        if key_id is None:
            return None
        raw = await self.redis.hget(self._index, key_id)  # type: ignore[misc]
        if raw is None:
            return None
        rec: dict[str, Any] = orjson.loads(raw)
        if rec["revoked_at"] is None:
            rec["revoked_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self._live(rec["hash"]))
        pipe.hset(self._index, key_id, orjson.dumps(rec).decode())
        await pipe.execute()
        rec.pop("hash", None)
        return rec
