"""Backup and restore of what only Redis holds: the API's own records.

Everything else in Redis is a projection that the worker rebuilds from Kafka
(docs/read-models.md). The API's records (keys, cases, webhook registrations and their
cursors and delivery logs) exist nowhere else, so ``lastmile backup`` writes them to a
JSON-lines file: a header line, then one line per key with its ``DUMP`` payload (base64)
and remaining time to live. ``lastmile restore`` puts them back with ``RESTORE`` (same
Redis major version or newer; the ACL user needs ``+restore``, docs/redis.md). Rate-limit
buckets are left out: they expire within seconds anyway.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from lastmile.readmodel.keys import Keys

FORMAT = "lastmile-redis-backup"
VERSION = 1


class BackupError(ValueError):
    """A backup file that cannot be restored here; the message says why."""


def header(keys: Keys, created_at: str) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "prefix": keys.prefix, "created_at": created_at}


async def export_records(redis: Redis, keys: Keys) -> AsyncIterator[dict[str, Any]]:
    """One dict per API record: key, pttl (0 = no expiry) and the DUMP payload (base64)."""
    skip = keys.rate_limit("")
    async for raw in redis.scan_iter(match=keys.api_records, count=1000):
        key = raw.decode() if isinstance(raw, bytes) else raw
        if key.startswith(skip):
            continue
        payload = await redis.dump(key)
        if payload is None:  # deleted between SCAN and DUMP
            continue
        pttl = await redis.pttl(key)
        yield {
            "key": key,
            "pttl": max(int(pttl), 0),
            "dump": base64.b64encode(payload).decode(),
        }


def check_header(first: dict[str, Any], keys: Keys) -> None:
    if first.get("format") != FORMAT or first.get("version") != VERSION:
        raise BackupError(f"not a {FORMAT} file of version {VERSION}: {str(first)[:120]}")
    if first.get("prefix") != keys.prefix:
        raise BackupError(
            f"the backup is of prefix {first.get('prefix')!r}, this deployment uses "
            f"{keys.prefix!r} (LASTMILE_REDIS_PREFIX)"
        )


async def restore_records(
    redis: Redis, keys: Keys, records: Iterable[dict[str, Any]], replace: bool
) -> int:
    """RESTORE each record; BackupError naming the first key that exists (without
    `replace`) or that lies outside this prefix's API records."""
    restored = 0
    api_prefix = keys.api_records.removesuffix("*")
    for n, rec in enumerate(records, start=2):
        try:
            key, pttl, payload = rec["key"], int(rec["pttl"]), base64.b64decode(rec["dump"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupError(f"line {n}: not a backup record ({exc})") from None
        if not isinstance(key, str) or not key.startswith(api_prefix):
            raise BackupError(f"line {n}: key {key!r} is not an API record of this prefix")
        try:
            await redis.restore(key, pttl, payload, replace=replace)
        except ResponseError as exc:
            if str(exc).startswith("BUSYKEY"):
                raise BackupError(
                    f"line {n}: {key} already exists; restore with --replace to overwrite "
                    f"({restored} records restored before it)"
                ) from None
            raise BackupError(f"line {n}: Redis refused {key}: {exc}") from None
        restored += 1
    return restored
