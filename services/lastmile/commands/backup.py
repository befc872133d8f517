"""``lastmile backup`` / ``lastmile restore``: the API's own records in Redis to a file and back
(lastmile.readmodel.backup; docs/redis.md)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer


def _connect(settings: Any) -> Any:
    from lastmile.io.redis_client import connect, redis_options

    return connect(
        settings.redis_url,
        max_connections=2,
        timeout_s=settings.redis_timeout_s,
        decode_responses=False,
        options=redis_options(settings),
    )


def _redis_failed(settings: Any, exc: Exception) -> None:
    from lastmile.console import fail
    from lastmile.io.redis_client import REDIS_HINTS, shown_url

    fail(
        f"Redis at {shown_url(settings.redis_url)} is not usable ({type(exc).__name__}: {exc})",
        REDIS_HINTS.get(type(exc), "is Redis up? check LASTMILE_REDIS_URL"),
        code=1,
    )


def backup(
    out: Annotated[str, typer.Option("--out", help="backup file to write (JSON lines)")],
) -> None:
    """Write the API's own records (keys, cases, webhooks) from Redis to a file."""
    from redis.exceptions import RedisError

    from lastmile.console import console, settings_or_fail
    from lastmile.io.atomic import write_bytes
    from lastmile.readmodel.backup import export_records, header
    from lastmile.readmodel.keys import Keys

    settings = settings_or_fail()
    keys = Keys(settings.redis_prefix)

    async def go() -> list[bytes]:
        redis = _connect(settings)
        try:
            lines = [orjson.dumps(header(keys, datetime.now(UTC).isoformat()))]
            lines += [orjson.dumps(r) async for r in export_records(redis, keys)]
            return lines
        finally:
            await redis.aclose()

    try:
        lines = asyncio.run(go())
    except (OSError, RedisError) as exc:
        _redis_failed(settings, exc)
    write_bytes(out, b"\n".join(lines) + b"\n", private=True)  # webhook secrets: mode 0600
    console.print(f"backed up {len(lines) - 1} records of prefix {keys.prefix} to {out}")


def restore(
    source: Annotated[str, typer.Option("--in", help="backup file written by lastmile backup")],
    replace: Annotated[
        bool, typer.Option("--replace", help="overwrite records that exist already")
    ] = False,
) -> None:
    """Put the records of a backup file back into Redis (same LASTMILE_REDIS_PREFIX)."""
    from redis.exceptions import RedisError

    from lastmile.console import console, fail, settings_or_fail
    from lastmile.readmodel.backup import BackupError, check_header, restore_records
    from lastmile.readmodel.keys import Keys

    settings = settings_or_fail()
    keys = Keys(settings.redis_prefix)
    try:
        rows = [orjson.loads(x) for x in Path(source).read_bytes().splitlines() if x.strip()]
    except OSError as exc:
        fail(f"{source}: {exc.strerror}", "check the path", code=1)
    except orjson.JSONDecodeError as exc:
        fail(f"{source}: not a backup file ({exc})")
    if not rows or not isinstance(rows[0], dict):
        fail(f"{source}: empty, not a backup file")

    async def go() -> int:
        check_header(rows[0], keys)
        redis = _connect(settings)
        try:
            return await restore_records(redis, keys, rows[1:], replace)
        finally:
            await redis.aclose()

    try:
        n = asyncio.run(go())
    except BackupError as exc:
        fail(f"{source}: {exc}")
    except (OSError, RedisError) as exc:
        _redis_failed(settings, exc)
    console.print(f"restored {n} records of prefix {keys.prefix} from {source}")


def register(app: typer.Typer) -> None:
    app.command(name="backup")(backup)
    app.command(name="restore")(restore)
