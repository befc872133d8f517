"""Topics lastmile creates, and how durable they are (replication and min.insync.replicas).

Production defaults: replication factor 3 and ``min.insync.replicas`` 2, so a write
acknowledged with ``acks=all`` is on two brokers and one broker may be down without
stopping producers. ``LASTMILE_TOPIC_REPLICATION_FACTOR`` / ``_MIN_INSYNC_REPLICAS`` set
other values for every topic, ``LASTMILE_TOPIC_DURABILITY`` per topic (exact name or a
glob such as ``violations.v1.*``, without the test prefix). When neither is set and the
cluster has fewer brokers than 3 (the one-node local stack), the defaults are capped at the
number of brokers with a warning; an explicit value the cluster cannot honour is refused
at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from lastmile.io.kafka_access import KafkaAccess
from lastmile.settings import ENV_PREFIX, Settings

log = logging.getLogger(__name__)

# violations.v1 (and each carrier's copy) is the record of what was published: keep it long
VIOLATIONS_RETENTION = {"retention.ms": str(400 * 86400 * 1000)}
PRODUCTION_REPLICATION_FACTOR = 3
PRODUCTION_MIN_INSYNC_REPLICAS = 2


class DurabilityError(ValueError):
    """Durability settings the cluster cannot honour; the message names the variable."""


@dataclass(frozen=True)
class Durability:
    """Replication factor and min.insync.replicas of each topic lastmile creates."""

    replication_factor: int = 1
    min_insync_replicas: int = 1
    overrides: dict[str, tuple[int, int]] = field(default_factory=dict)
    prefix: str = ""

    def for_topic(self, name: str) -> tuple[int, int]:
        base = name.removeprefix(self.prefix) if self.prefix else name
        if base in self.overrides:
            return self.overrides[base]
        for pattern, value in self.overrides.items():
            if fnmatch.fnmatchcase(base, pattern):
                return value
        return self.replication_factor, self.min_insync_replicas

    def topic_configs(self, name: str) -> dict[str, str]:
        return {"min.insync.replicas": str(self.for_topic(name)[1])}


def resolve_durability(settings: Settings, brokers: int) -> tuple[Durability, list[str]]:
    """The durability the settings ask for on a cluster of `brokers` brokers, and warnings.

    DurabilityError when an explicit value cannot work (more replicas than brokers, or
    min.insync.replicas above the replication factor).
    """
    warnings: list[str] = []

    def pick(rf: int | None, isr: int | None, variable: str) -> tuple[int, int]:
        if rf is None:
            rf = min(PRODUCTION_REPLICATION_FACTOR, brokers)
            if rf < PRODUCTION_REPLICATION_FACTOR:
                warnings.append(
                    f"the cluster has {brokers} broker(s): topics get replication factor {rf} "
                    f"(production wants {PRODUCTION_REPLICATION_FACTOR}; {variable})"
                )
        elif rf > brokers:
            raise DurabilityError(
                f"{variable}: replication factor {rf} needs {rf} brokers; the cluster has {brokers}"
            )
        if isr is None:
            isr = min(PRODUCTION_MIN_INSYNC_REPLICAS, rf)
        elif isr > rf:
            raise DurabilityError(
                f"{variable}: min.insync.replicas {isr} is above the replication factor {rf} "
                "(no write could ever be acknowledged)"
            )
        return rf, isr

    rf, isr = pick(
        settings.topic_replication_factor,
        settings.topic_min_insync_replicas,
        f"{ENV_PREFIX}TOPIC_REPLICATION_FACTOR / _MIN_INSYNC_REPLICAS",
    )
    overrides = {
        pattern: pick(
            o.replication_factor
            if o.replication_factor is not None
            else settings.topic_replication_factor,
            o.min_insync_replicas
            if o.min_insync_replicas is not None
            else settings.topic_min_insync_replicas,
            f"{ENV_PREFIX}TOPIC_DURABILITY[{pattern!r}]",
        )
        for pattern, o in settings.topic_durability.items()
    }
    return Durability(rf, isr, overrides, settings.topic_prefix), sorted(set(warnings))


async def started_admin(kafka: KafkaAccess | str, retries: int = 30) -> AIOKafkaAdminClient:
    """A started admin client; retries while the broker is not reachable yet."""
    admin = AIOKafkaAdminClient(**KafkaAccess.of(kafka).client_kwargs())
    for attempt in range(retries):
        try:
            await admin.start()
            return admin
        except KafkaConnectionError:
            if attempt == retries - 1:
                await admin.close()
                raise
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def cluster_durability(
    kafka: KafkaAccess | str, settings: Settings
) -> tuple[Durability, list[str]]:
    """resolve_durability on the cluster `kafka` reaches (asks it how many brokers it has)."""
    admin = await started_admin(kafka)
    try:
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    return resolve_durability(settings, max(1, len(cluster.get("brokers") or [])))


async def durability_shortfalls(
    admin: AIOKafkaAdminClient, names: list[str], durability: Durability
) -> list[str]:
    """One line per existing topic of `names` with fewer replicas or a lower
    min.insync.replicas than `durability` asks for."""
    if not names:
        return []
    wanted = set(names)
    # every topic's metadata (naming topics could let the broker auto-create one)
    replicas = {
        t["topic"]: min((len(p["replicas"]) for p in t["partitions"]), default=0)
        for t in await admin.describe_topics()
        if t["topic"] in wanted and t["error_code"] == 0
    }
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n) for n in sorted(replicas)]
    )
    isr = {
        resource[3]: int(dict((c[0], c[1]) for c in resource[4]).get("min.insync.replicas", 1))
        for response in responses
        for resource in response.resources
        if resource[0] == 0
    }
    out = []
    for name in sorted(replicas):
        want_rf, want_isr = durability.for_topic(name)
        if replicas[name] < want_rf:
            out.append(
                f"topic {name} has replication factor {replicas[name]}, {want_rf} wanted: "
                "add replicas with kafka-reassign-partitions.sh"
            )
        if name in isr and isr[name] < want_isr:
            out.append(
                f"topic {name} has min.insync.replicas {isr[name]}, {want_isr} wanted: "
                f"kafka-configs.sh --alter --entity-type topics --entity-name {name} "
                f"--add-config min.insync.replicas={want_isr}"
            )
    return out


def raise_topic_errors(response: object) -> None:
    """aiokafka returns CreateTopics errors in the response: raise the first real one
    (a topic that already exists is fine: another process created it first)."""
    for entry in getattr(response, "topic_errors", []):
        topic, code, message = entry[0], entry[1], entry[2] if len(entry) > 2 else None
        if code and code != TopicAlreadyExistsError.errno:
            error = for_code(code)
            raise error(f"creating topic {topic}: {message or error.__name__}")


async def create_missing_topics(
    kafka: KafkaAccess | str,
    names: list[str],
    partitions: int,
    durability: Durability,
    extra_configs: Callable[[str], dict[str, str]] = lambda name: {},
    retries: int = 30,
) -> list[str]:
    """Create the topics of `names` that do not exist yet; returns the names created. Topics
    that exist already are left as they are, with a warning when they are less durable than
    asked (an operator's reassignment, not a start-up side effect)."""
    admin = await started_admin(kafka, retries)
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        for warning in await durability_shortfalls(
            admin, [n for n in names if n in existing], durability
        ):
            log.warning("%s", warning)
        if missing:
            new = [
                NewTopic(
                    n,
                    num_partitions=partitions,
                    replication_factor=durability.for_topic(n)[0],
                    topic_configs={**durability.topic_configs(n), **extra_configs(n)},
                )
                for n in missing
            ]
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was quicker
                response = await admin.create_topics(new)
                raise_topic_errors(response)
        return missing
    finally:
        await admin.close()


__all__ = [
    "PRODUCTION_MIN_INSYNC_REPLICAS",
    "PRODUCTION_REPLICATION_FACTOR",
    "Durability",
    "DurabilityError",
    "cluster_durability",
    "create_missing_topics",
    "durability_shortfalls",
    "resolve_durability",
    "started_admin",
]
