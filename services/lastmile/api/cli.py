"""``lastmile api`` and ``lastmile keys ...``: hooked into the main CLI by ``register(app)``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

T = TypeVar("T")

keys_app = typer.Typer(
    name="keys",
    help="Issue, list and revoke API keys (stored only as hashes).",
    no_args_is_help=True,
)


def _with_store(fn: Callable[[Any], Awaitable[T]]) -> T:
    from redis.asyncio import Redis

    from lastmile.api.auth import KeyStore
    from lastmile.settings import Settings

    settings = Settings()

    async def go() -> T:
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        try:
            return await fn(KeyStore(redis, settings.redis_prefix))
        finally:
            await redis.aclose()

    try:
        return asyncio.run(go())
    except OSError as exc:  # redis ConnectionError is an OSError subclass too
        typer.echo(f"error: Redis at {settings.redis_url} is not reachable: {exc}", err=True)
        raise typer.Exit(2) from None


@keys_app.command("issue")
def issue(
    carrier: Annotated[str | None, typer.Option("--carrier", help="carrier code, e.g. ZTO")] = None,
    regulator: Annotated[bool, typer.Option("--regulator", help="a regulator key")] = False,
    label: Annotated[
        str | None, typer.Option("--label", help="free note, e.g. who holds it")
    ] = None,
) -> None:
    """Issue a key; it is printed once, as the last word of the output."""
    if (carrier is None) == (not regulator):
        typer.echo("error: give exactly one of --carrier CODE or --regulator", err=True)
        raise typer.Exit(2)
    try:
        key, rec = _with_store(
            lambda ks: ks.issue("regulator" if regulator else "carrier", carrier, label)
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    who = "regulator" if regulator else f"carrier {carrier}"
    typer.echo(f"issued {who} key {rec['id']} (shown only this once; store it now): {key}")


@keys_app.command("revoke")
def revoke(
    key_or_id: Annotated[str, typer.Argument(help="the key itself or its id (k_...)")],
) -> None:
    """Revoke a key at once: later requests with it get 401."""
    rec = _with_store(lambda ks: ks.revoke(key_or_id))
    if rec is None:
        typer.echo("error: no such key", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked key {rec['id']} ({rec['role']} {rec.get('carrier') or ''})".rstrip())


@keys_app.command("list")
def list_keys() -> None:
    """Every key ever issued: id, role, carrier, created, revoked (never the key itself)."""
    for r in _with_store(lambda ks: ks.list()):
        state = f"revoked {r['revoked_at']}" if r.get("revoked_at") else "active"
        typer.echo(
            f"{r['id']}\t{r['role']}\t{r.get('carrier') or '-'}\t{r['created_at']}\t"
            f"{state}\t{r.get('label') or ''}"
        )


def api(
    host: Annotated[str | None, typer.Option("--host", help="bind address")] = None,
    port: Annotated[int | None, typer.Option("--port", help="default LASTMILE_API_PORT")] = None,
    webhooks: Annotated[
        bool, typer.Option("--webhooks/--no-webhooks", help="run the webhook dispatcher")
    ] = True,
    allow_insecure_webhooks: Annotated[
        bool,
        typer.Option("--allow-insecure-webhooks", help="accept http:// loopback URLs (tests only)"),
    ] = False,
    rate: Annotated[float, typer.Option("--rate", help="requests per second per key")] = 20.0,
    burst: Annotated[int, typer.Option("--burst", help="burst size per key")] = 60,
) -> None:
    """Serve the HTTP API (feeds, cases, parcels, webhooks) over the Redis read models."""
    import logging

    from aiohttp import web
    from redis.asyncio import Redis

    from lastmile.api.app import create_app
    from lastmile.api.config import ApiConfig
    from lastmile.settings import Settings

    settings = Settings()
    config = ApiConfig(
        host=host or ApiConfig.host,
        rate_per_s=rate,
        burst=burst,
        run_dispatcher=webhooks,
        allow_insecure_webhooks=allow_insecure_webhooks,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def make() -> web.Application:
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        app = create_app(settings, redis, config)

        async def close(_: web.Application) -> None:
            await redis.aclose()

        app.on_cleanup.append(close)
        return app

    web.run_app(make(), host=config.host, port=port or settings.api_port, access_log=None)


def register(app: typer.Typer) -> None:
    app.command("api")(api)
    app.add_typer(keys_app, name="keys")
