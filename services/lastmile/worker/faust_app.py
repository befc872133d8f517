"""A module-level Faust app, so Faust's own command line works against the worker.

    faust -A lastmile.worker.faust_app tables     # the worker's tables
    faust -A lastmile.worker.faust_app worker -l info

(``faust ... agents`` lists nothing: the worker reads its inputs with intake tasks, not
agents: ADR 0005.)

The app is the one ``lastmile worker`` runs (same intake, tables, topics and pages), built
from the settings (LASTMILE_*, docs/configuration.md) when this module is imported; a bad
setting, network or rules file stops the command with one line naming it. ``lastmile
worker`` remains the way to run it in production: it turns a fatal error into one line and
exit 1. Missing topics are created on ``faust ... worker`` as ``lastmile worker`` does.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lastmile.io.files import ConfigError, NetworkError, load_network, load_rule_config
from lastmile.settings import SettingsError, load_settings
from lastmile.worker.app import create_worker
from lastmile.worker.topics import ensure_topics

try:
    settings = load_settings()
    worker = create_worker(
        settings, load_network(settings.network), load_rule_config(settings.rules)
    )
except (SettingsError, NetworkError, ConfigError) as exc:  # one line, no traceback
    raise SystemExit(f"error: {exc} (docs/configuration.md)") from None
app = worker.app


@app.on_worker_init.connect
def _create_missing_topics(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """`faust ... worker` creates the missing topics with their partitions, as `lastmile worker`.

    Faust sends this signal before its event loop runs; the creation gets a loop of its own
    in a thread either way.
    """
    wanted = worker.topics.all_with_partitions()
    with ThreadPoolExecutor(max_workers=1) as pool:
        created = pool.submit(
            asyncio.run, ensure_topics(settings.kafka_bootstrap, wanted, settings.partitions)
        ).result()
    if created:
        logging.getLogger("lastmile.worker").info("created topics: %s", ", ".join(created))


__all__ = ["app", "settings", "worker"]
