"""Records handed to the producer as one Kafka record batch per partition.

``producer.send`` costs a future, a partitioner call and an accumulator append per record;
a batch's changelog is a few hundred records. aiokafka's batch API (``create_batch``,
``send_batch``) builds each partition's records into one batch (its C record builder) and
gives one future for it. The producer is Faust's own (``_ensure_producer``, faust-streaming
0.15: ADR 0003), so the records share its connection, settings and idempotence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]] | None]  # key, value, headers

_partitioner = DefaultPartitioner()


@dataclass(frozen=True, slots=True)
class SentBatch:
    """One record batch handed over: its future resolves to the base offset's metadata."""

    partition: int
    records: int
    future: Any  # asyncio.Future[RecordMetadata]

    def last_offset(self) -> int:
        return int(self.future.result().offset) + self.records - 1


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the producer's default partitioner gives ``key`` (murmur2, as the
    Java client): keyed sends and batches agree, so co-partitioning holds."""
    return int(_partitioner(key, list(range(partitions)), None))


async def send_batches(
    producer: Any, topic: str, by_partition: Mapping[int, Iterable[Record]]
) -> list[SentBatch]:
    """Hand every partition's records to ``producer`` (aiokafka) in as few batches as its
    ``max_batch_size`` allows, in order; returns the batches, not waiting for acks."""
    sent: list[SentBatch] = []
    for partition, records in by_partition.items():
        batch, n = producer.create_batch(), 0
        for key, value, headers in records:
            if batch.append(key=key, value=value, timestamp=None, headers=headers or []) is None:
                if n == 0:
                    raise ValueError(f"a record for {topic}:{partition} exceeds a batch")
                sent.append(await _send(producer, batch, topic, partition, n))
                batch, n = producer.create_batch(), 0
                if (
                    batch.append(key=key, value=value, timestamp=None, headers=headers or [])
                    is None
                ):
                    raise ValueError(f"a record for {topic}:{partition} exceeds a batch")
            n += 1
        if n:
            sent.append(await _send(producer, batch, topic, partition, n))
    return sent


async def _send(producer: Any, batch: Any, topic: str, partition: int, n: int) -> SentBatch:
    return SentBatch(partition, n, await producer.send_batch(batch, topic, partition=partition))


def faust_producer(app: Any) -> Any:
    """The aiokafka producer under Faust's (started with the app)."""
    return app.producer._ensure_producer()
