"""Reading a whole topic back (tests, the demo summary, offline exports)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from lastmile.io.kafka_access import KafkaAccess


async def topic_partitions(
    kafka: KafkaAccess | str, topic: str, wait_s: float = 0.0
) -> list[TopicPartition]:
    """The partitions of `topic`, from the broker's metadata; [] when it does not exist.

    A consumer does not know them right after `start()`: aiokafka (0.13 on) bootstraps with a
    metadata request for no topics, so `partitions_for_topic` is None until a refresh, and
    the consumer has no public call that refreshes its own metadata. Asking for one topic
    by name (a consumer's subscription, `AIOKafkaProducer.partitions_for`, the admin's
    `describe_topics([topic])`) would let the broker auto-create a missing topic, so this
    asks the admin client for *all* topics, which creates nothing. With `wait_s` it retries
    until the topic is there (just created elsewhere) or the time is up.
    """
    admin = AIOKafkaAdminClient(**KafkaAccess.of(kafka).client_kwargs())
    await admin.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            for t in await admin.describe_topics():  # None: every topic, nothing created
                if t["topic"] == topic and t["error_code"] == 0 and t["partitions"]:
                    ids = sorted(p["partition"] for p in t["partitions"])
                    return [TopicPartition(topic, p) for p in ids]
            if loop.time() >= deadline:
                return []
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def read_topic(
    kafka: KafkaAccess | str, topic: str, timeout_s: float = 30.0
) -> list[ConsumerRecord]:
    """Every record on a topic up to its end offsets at the time of the call ([] if none)."""
    parts = await topic_partitions(kafka, topic)
    if not parts:
        return []
    consumer = AIOKafkaConsumer(
        **KafkaAccess.of(kafka).client_kwargs(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        out: list[ConsumerRecord] = []
        remaining = {tp for tp in parts if end[tp] > 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while remaining and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=10000)
            for recs in batches.values():
                out.extend(recs)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        if remaining:
            raise TimeoutError(f"could not read {topic} to its end in {timeout_s}s")
        return out
    finally:
        await consumer.stop()
