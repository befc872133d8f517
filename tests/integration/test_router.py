"""The carrier-feed router on the plain local broker: copies, dead letters, commits, topics.

In-process (no worker): records are produced straight to a prefixed violations.v1.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from lastmile.io.kafka import read_topic
from lastmile.io.kafka_topics import Durability, create_missing_topics
from lastmile.router.service import FeedTopicMissing, Router
from lastmile.settings import Settings

RECORDS = [
    (b"ZTO", b'{"violation_id":"V-1","carrier":"ZTO"}'),
    (b"EMS", b'{"violation_id":"V-2","carrier":"EMS"}'),
    (b"ZTO", b'{"violation_id":"V-3","carrier":"ZTO"}'),
    (None, b'{"violation_id":"V-4"}'),
    ("中通".encode(), b'{"violation_id":"V-5","carrier":"\\u4e2d\\u901a"}'),
    (b"\xff\xfe", b'{"violation_id":"V-6"}'),
]


def settings_for(kafka: str, name: str, **extra) -> Settings:
    return Settings(
        kafka_bootstrap=kafka, topic_prefix=f"{name}.", app_id=name, partitions=2, **extra
    )


async def produce(kafka: str, topic: str, records) -> None:
    await create_missing_topics(kafka, [topic], 2, Durability())
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key, headers=[("violation_id", b"x")])
    finally:
        await producer.stop()


async def route_until(router: Router, done, timeout_s: float = 60) -> None:
    """Run `router` until `done()` is true (checked every half second), then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(router.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not await done():
            if task.done():
                task.result()  # raises what stopped it
            assert asyncio.get_running_loop().time() < deadline, "router did not finish in time"
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def count(kafka: str, topic: str) -> int:
    return len(await read_topic(kafka, topic))


async def test_router_copies_each_record_to_its_carrier_and_dead_letters_bad_keys(
    kafka_bootstrap,
):
    name = f"r{uuid.uuid4().hex[:10]}"
    settings = settings_for(kafka_bootstrap, name)
    source = settings.topic("violations.v1")
    await produce(kafka_bootstrap, source, RECORDS)

    router = Router(kafka_bootstrap, settings, Durability())
    dlq = settings.topic("lastmile.router-dlq.v1")

    async def all_there() -> bool:
        return (
            await count(kafka_bootstrap, f"{source}.ZTO") == 2
            and await count(kafka_bootstrap, f"{source}.EMS") == 1
            and await count(kafka_bootstrap, dlq) == 3
        )

    router.metrics.lag.set(-1)  # a value the router must overwrite with what it measures
    await route_until(router, all_there)

    zto = await read_topic(kafka_bootstrap, f"{source}.ZTO")
    assert sorted(r.value for r in zto) == sorted(v for k, v in RECORDS if k == b"ZTO")
    assert all(r.key == b"ZTO" and ("violation_id", b"x") in r.headers for r in zto)
    dead = await read_topic(kafka_bootstrap, dlq)
    reasons = {dict(r.headers)["lastmile-reason"] for r in dead}
    assert reasons == {b"no_key", b"carrier_not_a_topic_name", b"key_not_utf8"}
    assert {r.value for r in dead} == {v for k, v in RECORDS[3:]}  # nothing lost, unchanged
    page = router.metrics.registry.get_sample_value
    assert page("lastmile_router_records_total", {"carrier": "ZTO"}) == 2
    assert page("lastmile_router_dead_letters_total", {"reason": "no_key"}) == 1
    assert page("lastmile_router_topics_created_total") == 3
    assert page("lastmile_router_lag_records") == 0  # measured: all copied

    # the carrier topic has violations.v1's retention and an explicit min.insync.replicas
    configs = await topic_config(kafka_bootstrap, f"{source}.ZTO")
    assert configs["retention.ms"] == str(400 * 86400 * 1000)
    assert configs["min.insync.replicas"] == "1"

    # offsets were committed after the copies: a restarted router copies nothing again
    again = Router(kafka_bootstrap, settings, Durability())
    await produce(kafka_bootstrap, source, [(b"EMS", b'{"violation_id":"V-7"}')])

    async def ems_two() -> bool:
        return await count(kafka_bootstrap, f"{source}.EMS") == 2

    await route_until(again, ems_two)
    await asyncio.sleep(1.0)
    assert await count(kafka_bootstrap, f"{source}.ZTO") == 2
    assert await count(kafka_bootstrap, dlq) == 3


async def test_a_missing_topic_stops_the_router_when_it_may_not_create_it(kafka_bootstrap):
    name = f"r{uuid.uuid4().hex[:10]}"
    settings = settings_for(kafka_bootstrap, name, router_create_topics=False)
    source = settings.topic("violations.v1")
    await produce(kafka_bootstrap, source, [(b"YTO", b'{"violation_id":"V-1"}')])

    async def never() -> bool:
        return False

    with pytest.raises(FeedTopicMissing, match=rf"{source}\.YTO does not exist"):
        await route_until(Router(kafka_bootstrap, settings, Durability()), never)

    # the operator creates it: the record was not committed past, so it is copied now
    await create_missing_topics(kafka_bootstrap, [f"{source}.YTO"], 1, Durability())

    async def copied() -> bool:
        return await count(kafka_bootstrap, f"{source}.YTO") == 1

    await route_until(Router(kafka_bootstrap, settings, Durability()), copied)


async def topic_config(kafka: str, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        (described,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)]
        )
    finally:
        await admin.close()
    return {c[0]: c[1] for c in described.resources[0][4]}


async def test_a_router_started_before_any_worker_makes_violations_v1_as_the_worker_would(
    kafka_bootstrap,
):
    name = f"r{uuid.uuid4().hex[:10]}"
    settings = settings_for(kafka_bootstrap, name)
    source = settings.topic("violations.v1")
    router = Router(kafka_bootstrap, settings, Durability())

    async def subscribed() -> bool:
        return router.ready.is_set()

    await route_until(router, subscribed)
    # not the broker's auto-created default (24 h here): the 400 days of violations.v1
    assert (await topic_config(kafka_bootstrap, source))["retention.ms"] == str(400 * 86400000)

    refusing = settings_for(kafka_bootstrap, f"{name}x", router_create_topics=False)
    with pytest.raises(FeedTopicMissing, match=r"violations\.v1 does not exist"):
        await route_until(Router(kafka_bootstrap, refusing, Durability()), subscribed)
