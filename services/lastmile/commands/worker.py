"""``lastmile worker``: run one streaming worker (Faust) with settings from the environment."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from lastmile.io.files import load_network, load_rule_config
from lastmile.io.kafka_access import check_access, kafka_access
from lastmile.io.kafka_topics import cluster_durability
from lastmile.io.redis_client import check_redis_access, redis_options
from lastmile.runtime import log_long_collections, tune_collector
from lastmile.settings import Settings


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Create the topics if missing, then run the Faust worker until it is stopped."""
    import faust

    from lastmile.worker.app import create_worker
    from lastmile.worker.topics import ensure_topics

    tune_collector()
    log_long_collections()
    network = load_network(settings.network)
    config = load_rule_config(settings.rules)
    log = logging.getLogger("lastmile.worker")
    access = kafka_access(settings)
    asyncio.run(check_access(access))  # bad credentials fail here, with what is wrong
    asyncio.run(check_redis_access(settings.redis_url, redis_options(settings)))
    durability, warnings = asyncio.run(cluster_durability(access, settings))
    for warning in warnings:
        log.warning("%s", warning)
    settings = settings.model_copy(
        update={
            "topic_replication_factor": durability.replication_factor,
            "topic_min_insync_replicas": durability.min_insync_replicas,
        }
    )
    w = create_worker(settings, network, config)
    created = asyncio.run(
        ensure_topics(
            access, w.topics.all_with_partitions(), settings.partitions, durability=durability
        )
    )
    if created:
        log.info("created topics: %s", ", ".join(created))
    worker = faust.Worker(w.app, loglevel=loglevel, quiet=True)
    # the client libraries log every message at DEBUG: never build those records
    level = logging.getLevelName(loglevel.upper())
    floor = max(logging.INFO, level) if isinstance(level, int) else logging.INFO
    for name in ("aiokafka", "faust", "mode", "kafka"):
        logging.getLogger(name).setLevel(floor)
    try:
        worker.execute_from_commandline()
    except (SystemExit, KeyboardInterrupt):
        if w.fatal is None:
            raise
    except BaseException:  # mode re-raises the (last) crash: ours is the first one, below
        if w.fatal is None:
            raise
    if w.fatal is not None:
        raise WorkerFailed(f"the worker stopped after an error: {w.fatal!r}") from None


class WorkerFailed(RuntimeError):
    """The worker stopped after a fatal error (logged with its traceback when it happened)."""


def exit_now(code: int) -> None:
    """End the process at once, after what it printed (ADR 0012).

    After a fatal stop the Faust app has stopped and its event loop is closed, but the Kafka
    consumer's own thread may still be retrying a broker that is gone: a normal interpreter
    exit waits for that thread, which held a stalled worker up to the 30 s backstop. Exiting
    here is as safe as that backstop (every effect is idempotent under the violation log).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
