"""Create the contract's topics when missing, with explicit partition counts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from lastmile.settings import Settings

log = logging.getLogger(__name__)

SCANS, COMPLAINTS, VIOLATIONS = "scans.v1", "complaints.v1", "violations.v1"
SIGNOFFS = "lastmile.signoffs-by-courier.v1"


@dataclass(frozen=True)
class TopicNames:
    """The worker's topics, with the deployment's prefix."""

    scans: str
    complaints: str
    violations: str
    signoffs: str

    @classmethod
    def of(cls, settings: Settings) -> TopicNames:
        t = settings.topic
        return cls(t(SCANS), t(COMPLAINTS), t(VIOLATIONS), t(SIGNOFFS))

    def dlq(self, topic: str) -> str:
        return f"{topic}.dlq"

    def outputs(self) -> list[str]:
        return [self.violations, self.signoffs, self.dlq(self.scans), self.dlq(self.complaints)]

    def all_with_partitions(self) -> list[str]:
        return [self.scans, self.complaints, *self.outputs()]


# violations.v1 is the record of what was published (the gate reads it back): keep it long.
TOPIC_CONFIGS = {"violations.v1": {"retention.ms": str(400 * 86400 * 1000)}}


def _configs_for(name: str) -> dict[str, str]:
    for suffix, configs in TOPIC_CONFIGS.items():
        if name.endswith(suffix):
            return configs
    return {}


async def ensure_topics(
    bootstrap: str, names: list[str], partitions: int, retries: int = 30
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    for attempt in range(retries):
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if attempt == retries - 1:
                raise
            await asyncio.sleep(1)
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            new = [
                NewTopic(
                    n,
                    num_partitions=partitions,
                    replication_factor=1,
                    topic_configs=_configs_for(n),
                )
                for n in missing
            ]
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker was quicker
                await admin.create_topics(new)
        return missing
    finally:
        await admin.close()
