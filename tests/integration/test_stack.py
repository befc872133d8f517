"""The local stack really works: Kafka round trip, Redis read/write, Prometheus queries."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import urllib.request
import uuid
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

WORKER_TARGETS = {f"127.0.0.1:{port}" for port in (6066, 6067, 6068, 6069)}


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        return json.load(resp)


async def test_kafka_produce_consume_roundtrip(kafka_bootstrap: str) -> None:
    topic = f"lastmile-it-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
        # the broker learns of a new topic from the controller a moment after it is created
        deadline = time.monotonic() + 10
        while topic not in await admin.list_topics() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert topic in await admin.list_topics()
        (described,) = await admin.describe_topics([topic])
        assert described["error_code"] == 0
        assert len(described["partitions"]) == 4

        sent: dict[bytes, tuple[bytes, int]] = {}
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            for i in range(40):
                key, value = f"parcel-{i % 8}".encode(), f"scan-{i}".encode()
                meta = await producer.send_and_wait(topic, value, key=key)
                assert meta.topic == topic and meta.offset >= 0
                sent[value] = (key, meta.partition)
        finally:
            await producer.stop()
        # the default partitioner keeps one parcel's scans on one partition
        partitions_by_key: dict[bytes, set[int]] = {}
        for key, partition in sent.values():
            partitions_by_key.setdefault(key, set()).add(partition)
        assert all(len(ps) == 1 for ps in partitions_by_key.values())

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=f"{topic}-group",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        received: dict[bytes, tuple[bytes, int]] = {}
        try:
            async with asyncio.timeout(60):
                while len(received) < len(sent):
                    batch = await consumer.getmany(timeout_ms=1000)
                    for records in batch.values():
                        for rec in records:
                            assert rec.key is not None and rec.value is not None
                            received[rec.value] = (rec.key, rec.partition)
            await consumer.commit()
        finally:
            await consumer.stop()
        assert received == sent
    finally:
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


async def test_redis_set_get(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    key = f"lastmile:it:{uuid.uuid4().hex}"
    try:
        assert await client.ping() is True
        assert await client.set(key, "已签收", ex=60) is True
        assert (await client.get(key)).decode() == "已签收"
        assert 0 < await client.ttl(key) <= 60
        assert await client.hset(f"{key}:h", mapping={"a": "1", "b": "2"}) == 2
        assert await client.hgetall(f"{key}:h") == {b"a": b"1", b"b": b"2"}
        info = await client.info("persistence")
        assert info["aof_enabled"] == 1  # the stack's redis.conf turns on appendonly
    finally:
        await client.delete(key, f"{key}:h")
        await client.aclose()
    assert await _exists_after_close(redis_url, key) == 0


async def _exists_after_close(redis_url: str, key: str) -> int:
    client = aioredis.from_url(redis_url)
    try:
        return int(await client.exists(key))
    finally:
        await client.aclose()


def test_prometheus_ready(prometheus_url: str) -> None:
    with urllib.request.urlopen(f"{prometheus_url}/-/ready", timeout=10) as resp:
        assert resp.status == 200
        assert b"Ready" in resp.read()


def test_prometheus_query_api(prometheus_url: str) -> None:
    query = urllib.parse.urlencode({"query": "vector(41) + 1"})
    body = _get_json(f"{prometheus_url}/api/v1/query?{query}")
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "vector"
    (sample,) = body["data"]["result"]
    assert float(sample["value"][1]) == 42.0


def test_prometheus_scrapes_the_local_workers(prometheus_url: str) -> None:
    # right after start-up the scrape pools may not be synced yet: poll briefly
    deadline = time.monotonic() + 30
    targets: set[str] = set()
    while time.monotonic() < deadline:
        body = _get_json(f"{prometheus_url}/api/v1/targets?state=any")
        assert body["status"] == "success"
        targets = {
            t["labels"]["instance"]
            for t in body["data"]["activeTargets"]
            if t["labels"]["job"] == "lastmile-worker"
        }
        if targets == WORKER_TARGETS:
            break
        time.sleep(0.5)
    assert targets == WORKER_TARGETS
    flags = _get_json(f"{prometheus_url}/api/v1/status/flags")["data"]
    assert flags["web.enable-lifecycle"] == "true"
