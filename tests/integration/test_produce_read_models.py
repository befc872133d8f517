"""Contract §7 read models on a real Redis: what the writer writes, ProduceReader reads back."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from builders import T0, scan
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.effects import Effects
from lastmile.pipeline.parcels import Located, step_parcels
from lastmile.pipeline.produce import step_produce
from lastmile.pipeline.runstate import RunState
from lastmile.readmodel.codec import china_day
from lastmile.readmodel.keys import Keys
from lastmile.readmodel.produce import ProduceReader
from lastmile.readmodel.writer import ReadModelWriter


@pytest.fixture
async def keyed(redis_url):
    client = Redis.from_url(redis_url)
    keys = Keys(f"rmp{uuid.uuid4().hex[:10]}")
    yield client, keys
    found = [k for m in keys.patterns() async for k in client.scan_iter(match=m, count=1000)]
    if found:
        await client.delete(*found)
    await client.aclose()


async def test_outbound_facts_quality_counts_points_and_clock_round_trip(keyed, network):
    redis, keys = keyed
    events = [
        scan(
            "O1",
            "collected",
            0,
            "P-APPLE",
            dest=None,
            goods={"category": "fresh_produce"},
            carrier="SF",
        ),
        scan("O1", "departed", 60, "P-APPLE", carrier="SF"),
        scan("X1", "delivered", 90, "P-DUNE", carrier="JT", gps=False),
    ]
    located = [Located(e, "scans.v1", 0) for e in events]
    fx = Effects()
    step_parcels(located, lambda *_: None, network, RuleConfig(), RunState(), fx)
    processing = T0.timestamp() + 86400
    written = step_produce(located, fx, network, RuleConfig(), processing)
    writer = ReadModelWriter(redis, keys)
    for _ in range(2):  # facts, points and clock are idempotent (the counts are not: ADR 0006)
        await writer.write(fx.read_model)

    reader = ProduceReader(redis, keys)
    (facts,) = await reader.outbound([china_day(T0.timestamp())])
    assert facts == written.outbound["O1"]
    points, clock = await reader.activity()
    assert points == {"P-APPLE": events[1].ts, "P-DUNE": events[2].ts}
    assert (clock.first, clock.newest) == (events[0].ts, events[2].ts)
    quality = await reader.quality([china_day(processing)])
    assert quality["JT"].counts["delivered_without_location"] == 2  # written twice
    assert quality["SF"].counts["scans"] == 4
    found = {
        k.decode() for m in keys.patterns() async for k in redis.scan_iter(match=m, count=1000)
    }
    assert {keys.points_seen, keys.data_clock, keys.outbound(china_day(T0.timestamp()))} <= found
