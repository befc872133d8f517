"""Create the contract's topics when missing, with explicit partition counts."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lastmile.io.kafka_access import KafkaAccess
from lastmile.io.kafka_topics import VIOLATIONS_RETENTION, Durability, create_missing_topics
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
TOPIC_CONFIGS = {"violations.v1": VIOLATIONS_RETENTION}


def _configs_for(name: str) -> dict[str, str]:
    for suffix, configs in TOPIC_CONFIGS.items():
        if name.endswith(suffix):
            return configs
    return {}


async def ensure_topics(
    kafka: KafkaAccess | str,
    names: list[str],
    partitions: int,
    retries: int = 30,
    durability: Durability | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    return await create_missing_topics(
        kafka, names, partitions, durability or Durability(), _configs_for, retries
    )
