"""``lastmile router`` and ``lastmile carrier-acls``: hooked into the main CLI by ``register``."""

from __future__ import annotations

from typing import Annotated

import typer


def router(
    loglevel: Annotated[str, typer.Option("--loglevel")] = "info",
) -> None:
    """Copy violations.v1 to one topic per carrier, violations.v1.<CARRIER> (ADR 0004)."""
    import asyncio
    import logging

    from lastmile.console import console, fail, settings_or_fail
    from lastmile.io.kafka_access import KafkaAccessError, check_access, kafka_access
    from lastmile.io.kafka_topics import DurabilityError, cluster_durability
    from lastmile.router.service import FeedTopicMissing, run_router

    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    for name in ("aiokafka", "kafka"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))
    settings = settings_or_fail()

    async def main() -> None:
        access = kafka_access(settings)
        await check_access(access)
        durability, warnings = await cluster_durability(access, settings)
        for warning in warnings:
            logging.getLogger("lastmile.router").warning("%s", warning)
        console.print(
            f"router: {settings.topic('violations.v1')} → .<CARRIER> as {access.principal}; "
            f"metrics on http://{settings.web_host}:{settings.router_web_port}/metrics"
        )
        await run_router(access, settings, durability)

    try:
        asyncio.run(main())
    except (KafkaAccessError, DurabilityError) as exc:
        fail(str(exc), "fix the LASTMILE_* variable it names")
    except FeedTopicMissing as exc:
        fail(str(exc), "see docs/decisions/0004-carrier-feed-isolation.md", code=1)
    except OSError as exc:
        if exc.errno is not None and "address" in str(exc).lower():
            fail(
                f"cannot serve the router's metrics on {settings.web_host}:"
                f"{settings.router_web_port}: {exc.strerror}",
                "set LASTMILE_ROUTER_WEB_PORT to a free port",
                code=1,
            )
        raise


def carrier_acls(
    carrier: Annotated[
        list[str], typer.Option("--carrier", help="carrier code (repeatable), e.g. ZTO")
    ],
    bootstrap: Annotated[
        str | None, typer.Option("--bootstrap-server", help="default: LASTMILE_KAFKA_BOOTSTRAP")
    ] = None,
    command_config: Annotated[
        str, typer.Option("--command-config", help="admin client properties for kafka-acls.sh")
    ] = "admin.properties",
) -> None:
    """Print the kafka-acls.sh commands that let User:<CARRIER> read only its own feed."""
    from lastmile.console import fail, settings_or_fail
    from lastmile.router.feeds import SOURCE, acl_command_lines

    settings = settings_or_fail()
    try:
        lines = acl_command_lines(
            carrier,
            bootstrap or settings.kafka_bootstrap,
            command_config,
            settings.topic(SOURCE),
        )
    except ValueError as exc:
        fail(str(exc))
    for line in lines:
        print(line)


def register(app: typer.Typer) -> None:
    app.command(name="router")(router)
    app.command(name="carrier-acls")(carrier_acls)
