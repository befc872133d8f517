"""The read-model package round trip on a real Redis: write through the writer, read each
family back through the reader, and find every key under the documented patterns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from builders import APPLE, T0, complaint, inbound_path, scan
from lastmile.domain.engine import Detection
from lastmile.domain.events import ScanEvent
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.effects import Effects, ReadModelWrites
from lastmile.pipeline.parcels import Located, step_parcels
from lastmile.pipeline.produce import step_produce
from lastmile.pipeline.records import DueHold, HoldKey
from lastmile.pipeline.runstate import RunState
from lastmile.readmodel.codec import china_day, encode_path
from lastmile.readmodel.holds import RedisHolds
from lastmile.readmodel.keys import TIMELINE_SHARDS, Keys
from lastmile.readmodel.produce import ProduceReader
from lastmile.readmodel.reader import ReadModelReader
from lastmile.readmodel.writer import ReadModelWriter


def first_batch(events, network):  # type: ignore[no-untyped-def]
    """The effects of one batch of parcels nobody has seen before."""
    located = [Located(e, "scans.v1", 0) for e in events]
    return step_parcels(located, lambda *_: None, network, RuleConfig(), RunState())


@pytest.fixture
async def keyed(redis_url):
    client = Redis.from_url(redis_url)
    keys = Keys(f"rm{uuid.uuid4().hex[:10]}")
    yield client, keys
    found = [k for m in keys.patterns() async for k in client.scan_iter(match=m, count=1000)]
    if found:
        await client.delete(*found)
    await client.aclose()


async def test_what_the_writer_writes_each_reader_reads_back_once(keyed, network):
    redis, keys = keyed
    events = [
        *inbound_path("R1"),
        scan("R1", "delivered", 720, "T-E", courier="K-1"),  # left at the town centre
        complaint("R1", "not_received", 900),
        *inbound_path("R2", APPLE, "P-APPLE"),
        scan("R2", "delivered", 700, "P-APPLE"),
    ]
    fx = first_batch(events, network)
    writer, reader = ReadModelWriter(redis, keys), ReadModelReader(redis, keys)
    d = Detection(network, RuleConfig())
    d.add_all(events)
    violations = d.violations(datetime(2026, 11, 10, tzinfo=UTC))
    assert violations
    for _ in range(2):  # a replay changes nothing
        await writer.write(fx.read_model)
        await writer.violations(violations)

    day = china_day(events[-1].ts)
    (rolled,) = await reader.days([day])
    assert sum(rolled.violations.values()) == len(violations)
    assert sum(rolled.deliveries.values()) == 2, "each first sign-off counted once"
    assert sum(rolled.complaints.values()) == 1
    assert len(rolled.end_to_end) == 2 and set(rolled.parcels) == {"R1", "R2"}

    towns = list(network.towns)
    ids = await reader.violation_ids_by_town([*towns, "unknown"], 0, 4e9)
    assert sorted(ids) == sorted(v["violation_id"] for v in violations)
    docs = await reader.violations([*ids, "V-missing"])
    assert docs[-1] is None and [d["violation_id"] for d in docs[:-1]] == ids

    coverage = dict(zip(towns, await reader.coverage(towns), strict=True))
    reached = {v for t in towns for v, _ in coverage[t][0]}
    assert APPLE in reached
    counts = await reader.coverage_counts(towns, 0, 4e9)
    assert sum(r for r, _ in counts) == len(reached)

    path = await reader.parcel_path("R1")
    assert path is not None and {s.event_id for s in path.scans} == {
        e.event_id for e in events if isinstance(e, ScanEvent) and e.parcel_id == "R1"
    }
    assert [c.category for c in path.complaints] == ["not_received"]
    assert await reader.violation_ids_of_parcel("R1") == {
        v["violation_id"] for v in violations if v["parcel_id"] == "R1"
    }
    stream = await redis.xlen(keys.violation_stream)
    assert stream == len(violations), "the stream carries each violation once"


async def test_a_timeline_leaves_redis_when_its_parcel_leaves_the_state(keyed, network):
    """Retention in event time: the batch that expires a parcel deletes its timeline, unless
    the same batch brings the waybill number back."""
    redis, keys = keyed
    writer, reader = ReadModelWriter(redis, keys), ReadModelReader(redis, keys)
    fx = first_batch([*inbound_path("G1"), *inbound_path("G2")], network)
    await writer.write(fx.read_model)
    assert await reader.parcel_path("G1") is not None
    gone = ReadModelWrites(expired_paths=["G1", "G2"], paths={"G2": fx.read_model.paths["G2"]})
    await writer.write(gone)
    assert await reader.parcel_path("G1") is None
    assert await reader.parcel_path("G2") is not None


async def test_holds_move_later_only_and_a_release_spares_a_renewed_hold(keyed):
    redis, keys = keyed
    holds = RedisHolds(redis, keys.holds("app"), hold_s=5)
    await holds.hold([HoldKey(1, "P1"), HoldKey(2, "P2")], now=100.0)
    assert await holds.due(104.0) == []
    due = await holds.due(106.0)
    assert due == [DueHold(HoldKey(1, "P1"), 105.0), DueHold(HoldKey(2, "P2"), 105.0)]
    await holds.hold([HoldKey(1, "P1")], now=101.5)  # renewed meanwhile: moves to 106.5
    await holds.hold([HoldKey(2, "P2")], now=90.0)  # never earlier: stays at 105
    await holds.release(due)  # removes P2 (unchanged), keeps P1 (renewed)
    assert await holds.due(1000.0) == [DueHold(HoldKey(1, "P1"), 106.5)]


async def test_every_key_lies_under_the_documented_patterns_and_spreads_over_slots(keyed, network):
    redis, keys = keyed
    events = [*inbound_path("S1"), scan("S1", "delivered", 720, "T-E")]
    fx = first_batch(events, network)
    await ReadModelWriter(redis, keys).write(fx.read_model)
    found: set[str] = set()
    for m in keys.patterns():
        found |= {k.decode() async for k in redis.scan_iter(match=m, count=1000)}
    assert keys.parcel("S1") in found and keys.parcels_seen(china_day(events[0].ts)) in found
    tags = {k[1 : k.index("}")] if k.startswith("{") else k for k in found}
    assert len(tags) > 3, "keys are not all in one hash-tag slot"


async def test_a_redis_that_lost_its_scripts_gets_them_again_and_counts_once(keyed, network):
    """A restarted Redis (here: SCRIPT FLUSH) answers NOSCRIPT: the writer loads its scripts
    and runs the batch again, which repeats nothing that had already run."""
    redis, keys = keyed
    events = [*inbound_path("N1"), scan("N1", "delivered", 720, "T-E")]
    fx = first_batch(events, network)
    writer = ReadModelWriter(redis, keys)
    await writer.write(fx.read_model)
    await redis.script_flush()
    await writer.write(fx.read_model)
    (rolled,) = await ReadModelReader(redis, keys).days([china_day(events[-1].ts)])
    assert sum(rolled.deliveries.values()) == 1 and set(rolled.parcels) == {"N1"}
    assert await redis.ttl(keys.parcel("N1")) > 29 * 86400


async def test_timelines_of_a_batch_share_a_slot_only_within_their_shard(keyed, network):
    redis, keys = keyed
    pids = [f"SH{i}" for i in range(64)]
    fx = first_batch([e for pid in pids for e in inbound_path(pid)], network)
    await ReadModelWriter(redis, keys).write(fx.read_model)
    reader = ReadModelReader(redis, keys)
    for pid in pids:
        path = await reader.parcel_path(pid)
        assert path is not None and path.parcel_id == pid
    tags = {keys.parcel(pid).split("}")[0] for pid in pids}
    assert 8 < len(tags) <= TIMELINE_SHARDS


async def test_a_timeline_written_before_the_shards_is_still_read(keyed, network):
    redis, keys = keyed
    fx = first_batch(list(inbound_path("OLD1")), network)
    await redis.set(keys.parcel_before_shards("OLD1"), encode_path(fx.read_model.paths["OLD1"]))
    path = await ReadModelReader(redis, keys).parcel_path("OLD1")
    assert path is not None and path.scans == fx.read_model.paths["OLD1"].scans


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
    written = step_produce(located, fx, network, RuleConfig(), processing, 0.0)
    writer = ReadModelWriter(redis, keys)
    for _ in range(2):  # facts, points and clock are idempotent (the counts are not: ADR 0009)
        await writer.write(fx.read_model)

    reader = ProduceReader(redis, keys)
    (facts,) = await reader.outbound([china_day(T0.timestamp())])
    assert facts == written.outbound["O1"]
    points, clock = await reader.activity()
    assert points == {"P-APPLE": events[1].ts, "P-DUNE": events[2].ts}
    assert (clock.first, clock.newest) == (events[0].ts, events[2].ts)
    quality = await reader.quality([china_day(T0.timestamp())])  # by event day
    assert quality["JT"].counts["delivered_without_location"] == 2  # written twice
    assert quality["SF"].counts["scans"] == 4
    found = {
        k.decode() for m in keys.patterns() async for k in redis.scan_iter(match=m, count=1000)
    }
    assert {keys.points_seen, keys.data_clock, keys.outbound(china_day(T0.timestamp()))} <= found
