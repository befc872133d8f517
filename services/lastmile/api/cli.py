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


def _with_redis(fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run `fn(redis)` against LASTMILE_REDIS_URL; an unreachable Redis is one line, exit 1."""
    from redis.exceptions import RedisError

    from lastmile.console import fail, settings_or_fail
    from lastmile.io.redis_client import REDIS_HINTS, connect, redis_options, shown_url

    settings = settings_or_fail()

    async def go() -> T:
        redis = connect(
            settings.redis_url,
            max_connections=4,
            timeout_s=settings.redis_timeout_s,
            options=redis_options(settings),
        )
        try:
            return await fn(redis)
        finally:
            await redis.aclose()

    try:
        return asyncio.run(go())
    except (OSError, RedisError) as exc:
        fail(
            f"Redis at {shown_url(settings.redis_url)} is not usable ({type(exc).__name__}: {exc})",
            REDIS_HINTS.get(type(exc), "is Redis up? check LASTMILE_REDIS_URL"),
            code=1,
        )


def _with_store(fn: Callable[[Any], Awaitable[T]]) -> T:
    from lastmile.api.auth import KeyStore
    from lastmile.settings import load_settings

    prefix = load_settings().redis_prefix
    return _with_redis(lambda redis: fn(KeyStore(redis, prefix)))


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
    if label is not None and (len(label) > 200 or not label.isprintable()):
        typer.echo("error: --label must be at most 200 printable characters", err=True)
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
            f"{r['id']}\t{r['role']}\t{printable(r.get('carrier') or '-')}\t{r['created_at']}\t"
            f"{state}\t{printable(r.get('label') or '')}"
        )


webhooks_app = typer.Typer(
    name="webhooks",
    help="The regulator's view of carriers' webhook registrations: list, delete.",
    no_args_is_help=True,
)


def _with_webhooks(fn: Callable[[Any], Awaitable[T]]) -> T:
    from lastmile.api.webhooks import WebhookStore
    from lastmile.settings import load_settings

    prefix = load_settings().redis_prefix
    return _with_redis(lambda redis: fn(WebhookStore(redis, prefix)))


@webhooks_app.command("list")
def list_webhooks() -> None:
    """Every carrier's registration: carrier, id, status, URL, last error (never the secret)."""
    for r in _with_webhooks(lambda ws: ws.all()):
        typer.echo(
            "\t".join(
                printable(str(v))
                for v in (r["carrier"], r["id"], r["status"], r["url"], r["last_error"] or "-")
            )
        )


@webhooks_app.command("delete")
def delete_webhook(
    carrier: Annotated[str, typer.Argument(help="carrier code, e.g. ZTO")],
) -> None:
    """Remove a carrier's registration: its deliveries stop at once."""
    if not _with_webhooks(lambda ws: ws.delete(carrier)):
        typer.echo(f"error: carrier {printable(carrier)} has no webhook registration", err=True)
        raise typer.Exit(1)
    typer.echo(f"deleted the webhook registration of {printable(carrier)}")


def printable(text: str) -> str:
    """`text` with control characters escaped: a label or URL cannot forge output lines."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def api(
    host: Annotated[str | None, typer.Option("--host", help="bind address")] = None,
    port: Annotated[int | None, typer.Option("--port", help="default LASTMILE_API_PORT")] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", help="bind address of /metrics (keep it internal)")
    ] = "127.0.0.1",
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", help="port of /metrics, default LASTMILE_API_METRICS_PORT"),
    ] = None,
    webhooks: Annotated[
        bool, typer.Option("--webhooks/--no-webhooks", help="run the webhook dispatcher")
    ] = True,
    allow_insecure_webhooks: Annotated[
        bool,
        typer.Option(
            "--allow-insecure-webhooks",
            help="accept http:// and loopback webhook URLs (development and tests only)",
        ),
    ] = False,
    rate: Annotated[float, typer.Option("--rate", help="requests per second per key")] = 20.0,
    burst: Annotated[int, typer.Option("--burst", help="burst size per key")] = 60,
    sse_max_streams: Annotated[
        int, typer.Option("--sse-max-streams", min=1, help="open SSE streams per process")
    ] = 200,
    sse_max_per_key: Annotated[
        int, typer.Option("--sse-max-per-key", min=1, help="open SSE streams per key")
    ] = 5,
) -> None:
    """Serve the HTTP API (feeds, cases, parcels, webhooks) over the Redis read models."""
    import logging
    import math

    from lastmile.api import logfilter
    from lastmile.api.config import ApiConfig
    from lastmile.console import fail, settings_or_fail

    settings = settings_or_fail()
    if not (math.isfinite(rate) and rate > 0) or burst < 1:
        fail("--rate must be a positive number and --burst at least 1")
    for name, value in (("--port", port), ("--metrics-port", metrics_port)):
        if value is not None and not 1 <= value <= 65535:
            fail(f"{name} {value}: want a port from 1 to 65535")
    config = ApiConfig(
        host=host or ApiConfig.host,
        rate_per_s=rate,
        burst=burst,
        run_dispatcher=webhooks,
        allow_insecure_webhooks=allow_insecure_webhooks,
        sse_max_streams=sse_max_streams,
        sse_max_per_key=sse_max_per_key,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logfilter.install()
    api_port = port or settings.api_port
    m_port = metrics_port or settings.api_metrics_port
    try:
        asyncio.run(_serve(settings, config, api_port, metrics_host, m_port))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # port in use, address not available
        fail(
            f"cannot listen on {config.host}:{api_port} / {metrics_host}:{m_port}: "
            f"{exc.strerror or exc}",
            "choose free ports with --port / --metrics-port",
            code=1,
        )


async def _serve(settings: Any, config: Any, port: int, metrics_host: str, m_port: int) -> None:
    """The API on host:port and its /metrics on metrics_host:m_port until SIGINT/SIGTERM."""
    import signal

    from aiohttp import web

    from lastmile.api.app import create_app, create_metrics_app
    from lastmile.io.redis_client import check_redis_access, connect, redis_options

    options = redis_options(settings)
    await check_redis_access(settings.redis_url, options)  # bad credentials: stop at start
    redis = connect(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout_s=settings.redis_timeout_s,
        options=options,
    )
    app = create_app(settings, redis, config)
    runners = [
        web.AppRunner(app, access_log=None),
        web.AppRunner(create_metrics_app(app), access_log=None),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started: list[web.AppRunner] = []
    try:
        for runner, h, p in ((runners[0], config.host, port), (runners[1], metrics_host, m_port)):
            await runner.setup()
            started.append(runner)
            await web.TCPSite(runner, h, p).start()
        print(f"lastmile api on http://{config.host}:{port} (metrics: {metrics_host}:{m_port})")
        await stop.wait()
    finally:
        for runner in reversed(started):
            await runner.cleanup()
        await redis.aclose()


def register(app: typer.Typer) -> None:
    app.command("api")(api)
    app.add_typer(keys_app, name="keys")
    app.add_typer(webhooks_app, name="webhooks")
