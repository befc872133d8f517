"""The worker's Kafka outputs: a batch's messages leave as one record batch per partition,
partitioned by key as a keyed send would be, and each resolves with its topic's acks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from lastmile.pipeline.records import DeadLetter
from lastmile.worker.batch_send import partition_of
from lastmile.worker.outbox import KafkaOutbox

NAMES = SimpleNamespace(
    violations="violations.v1",
    signoffs="signoffs",
    scans="scans.v1",
    complaints="complaints.v1",
    dlq=lambda t: f"{t}.dlq",
)


@dataclass
class Batch:
    records: list[tuple[Any, Any]] = field(default_factory=list)
    room: int = 1000

    def append(self, *, key: Any, value: Any, timestamp: Any, headers: Any) -> object | None:
        if len(self.records) >= self.room:
            return None
        self.records.append((key, value))
        return object()


@dataclass
class Producer:
    room: int = 1000
    fail_topic: str | None = None
    batches: list[tuple[str, int, list[tuple[Any, Any]]]] = field(default_factory=list)
    acks: list[asyncio.Future[Any]] = field(default_factory=list)

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(4))

    def create_batch(self) -> Batch:
        return Batch(room=self.room)

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> Any:
        if topic == self.fail_topic:
            raise RuntimeError("broker refused")
        self.batches.append((topic, partition, batch.records))
        fut = asyncio.get_running_loop().create_future()
        self.acks.append(fut)
        return fut


def violation(carrier: str, n: int) -> dict[str, Any]:
    return {"violation_id": f"V{n}", "carrier": carrier}


async def test_one_batch_per_partition_each_message_where_its_key_sends_it():
    producer = Producer()
    outbox = KafkaOutbox(lambda: producer, NAMES, "w1")
    acks = [await outbox.violation(violation(c, i), "scans.v1:0") for i, c in enumerate("ABCAB")]
    await outbox.send()
    by_partition = {p: [k for k, _ in recs] for _, p, recs in producer.batches}
    assert len(producer.batches) == len(by_partition), "one batch per partition"
    for p, keys in by_partition.items():
        assert all(partition_of(k, 4) == p for k in keys)
        assert all(DefaultPartitioner()(k, [0, 1, 2, 3], None) == p for k in keys)
    assert sorted(k for keys in by_partition.values() for k in keys) == sorted(
        c.encode() for c in "ABCAB"
    )
    assert not any(a.done() for a in acks), "resolved only when the broker acknowledges"
    for fut in producer.acks:
        fut.set_result(SimpleNamespace(offset=0))
    await asyncio.gather(*acks)


async def test_a_full_batch_is_sent_and_the_rest_go_in_the_next_in_order():
    producer = Producer(room=2)
    outbox = KafkaOutbox(lambda: producer, NAMES, "w1")
    for i in range(5):
        await outbox.violation(violation("ZTO", i), "scans.v1:0")
    await outbox.send()
    values = [v for _, _, recs in producer.batches for _, v in recs]
    assert [len(recs) for _, _, recs in producer.batches] == [2, 2, 1]
    assert [v.count(b"V") for v in values] == [1] * 5
    assert values == sorted(values), "in the order they were queued"


async def test_a_refused_topic_fails_its_own_messages_and_spares_the_others():
    producer = Producer(fail_topic="violations.v1")
    outbox = KafkaOutbox(lambda: producer, NAMES, "w1")
    refused = await outbox.violation(violation("ZTO", 1), "scans.v1:0")
    letter = DeadLetter("scans", b"k", b"{bad", "invalid_json", "", "scans.v1:0:7")
    kept = await outbox.dead_letter(letter)
    await outbox.send()
    with pytest.raises(RuntimeError, match="broker refused"):
        await refused
    producer.acks[0].set_result(SimpleNamespace(offset=0))
    await kept
    assert [t for t, _, _ in producer.batches] == ["scans.v1.dlq"]


async def test_a_lost_ack_fails_the_messages_waiting_for_it():
    producer = Producer()
    outbox = KafkaOutbox(lambda: producer, NAMES, "w1")
    ack = await outbox.violation(violation("ZTO", 1), "scans.v1:0")
    await outbox.send()
    producer.acks[0].set_exception(ConnectionError("broker gone"))
    with pytest.raises(ConnectionError):
        await ack
