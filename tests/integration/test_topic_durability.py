"""Durability of existing topics: less than asked is reported (the worker logs it at start)."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient

from lastmile.io.kafka_topics import Durability, create_missing_topics, durability_shortfalls


async def test_existing_topics_less_durable_than_asked_are_reported(kafka_bootstrap):
    name = f"d{uuid.uuid4().hex[:10]}.violations.v1"
    await create_missing_topics(kafka_bootstrap, [name], 1, Durability(1, 1))
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert await durability_shortfalls(admin, [name], Durability(1, 1)) == []
        # what a production setting would ask of a topic made on a one-broker stack
        found = await durability_shortfalls(admin, [name], Durability(3, 2))
    finally:
        await admin.close()
    assert len(found) == 2
    assert f"topic {name} has replication factor 1, 3 wanted" in found[0]
    assert f"topic {name} has min.insync.replicas 1, 2 wanted" in found[1]
