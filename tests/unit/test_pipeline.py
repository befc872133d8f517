"""The streaming pipeline without a broker: pure steps, and the runner over in-memory ports.

The same answers as detect, whatever the batches; each transition counted once; and the
order of effects of ADR 0001: state stored only after the broker acknowledged, a hold
released only after its violation was acknowledged.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from builders import APPLE, BIRCH, CEDAR, complaint, inbound_path, scan
from lastmile.domain.bulk import Signoff
from lastmile.domain.engine import analyse_parcel, detect_events
from lastmile.domain.path import ParcelPath
from lastmile.domain.rules import RuleConfig
from lastmile.io.codec import decode_path, decode_signoffs, encode_path, encode_signoffs
from lastmile.pipeline.couriers import step_couriers
from lastmile.pipeline.effects import Effects
from lastmile.pipeline.memory import (
    MemoryCouriers,
    MemoryGate,
    MemoryHolds,
    MemoryMetrics,
    MemoryOutbox,
    MemoryParcels,
    MemoryReadModel,
)
from lastmile.pipeline.parcels import Located, expire, folded_first, step_parcels
from lastmile.pipeline.records import HoldKey, SignoffRecord
from lastmile.pipeline.runner import Ports, Runner
from lastmile.pipeline.runstate import ExpiryIndex, RunState

NOW = datetime(2026, 11, 10, tzinfo=UTC)
TOPIC = "scans.v1"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def ports(outbox: MemoryOutbox | None = None, clock: Clock | None = None, **kw) -> Ports:
    return Ports(
        gate=kw.get("gate") or MemoryGate(),
        outbox=outbox or MemoryOutbox(),
        holds=kw.get("holds") or MemoryHolds(hold_s=5.0),
        read_model=MemoryReadModel(),
        parcels=kw.get("parcels") or MemoryParcels(),
        couriers=MemoryCouriers(),
        metrics=MemoryMetrics(),
        clock=clock or Clock(),
    )


def located(events, partition=0):
    return [Located(e, TOPIC, partition) for e in events]


async def stream_through(events, network, batch_size, seed=0):
    """Shuffled batches through step + runner; sign-offs through the couriers step; then
    every hold released once it is due. Returns the published violations by id."""
    p, clock, state = ports(), Clock(), RunState()
    p.clock = clock
    runner = Runner(p, network, RuleConfig())
    order = list(events)
    random.Random(seed).shuffle(order)
    for i in range(0, len(order), batch_size):
        fx = step_parcels(
            located(order[i : i + batch_size]), p.parcels.get, network, RuleConfig(), state
        )
        await runner.apply(fx)
        sent = p.outbox.sent_signoffs
        p.outbox.sent_signoffs = {}
        cfx = step_couriers(sent, p.couriers, network, RuleConfig(), "signoffs", 0)
        await runner.apply_couriers(cfx)
    clock.now += timedelta(seconds=60)
    await runner.release_due(await p.holds.due(clock.now.timestamp()), TOPIC)
    return p, {v["violation_id"]: v for v in p.outbox.violations}


def scenario():
    ev = [*inbound_path("W1"), scan("W1", "delivered", 720, "T-E")]
    ev += [
        *inbound_path("F1"),
        scan("F1", "delivered", 705, "P-APPLE"),
        scan("F1", "arrived", 730, "P-APPLE"),
    ]
    ev += [
        *inbound_path("C1"),
        scan("C1", "delivered", 720, "P-APPLE"),
        complaint("C1", "not_received", 900),
    ]
    ev += [
        *inbound_path("R1", BIRCH, "P-BIRCH"),
        scan("R1", "fee_charged", 710, "P-BIRCH", fee=(9, "other")),
    ]
    ev += [
        scan("OUT", "collected", 0, "P-CEDAR-1", dest=None),
        scan("OUT", "fee_charged", 1, "P-CEDAR-1"),
    ]
    return ev


async def test_streaming_in_any_batches_publishes_what_detect_finds_once(network):
    events = scenario()
    offline = {v["violation_id"]: v for v in detect_events(events, network, RuleConfig(), NOW)}
    for batch_size in (1, 3, 7, 100):
        for seed in range(3):
            p, published = await stream_through(events + events[:5], network, batch_size, seed)
            assert published.keys() == offline.keys(), (batch_size, seed)
            assert len(p.outbox.violations) == len(published), "a violation published twice"
            for vid, v in published.items():
                assert (v["rule"], v["carrier"], v["evidence"]) == (
                    offline[vid]["rule"],
                    offline[vid]["carrier"],
                    offline[vid]["evidence"],
                )


def test_a_batch_folded_in_slices_has_the_effects_of_one_fold(network):
    """The worker folds a batch in slices (yielding to the loop between them): each slice
    folds on the paths the earlier ones made. State and findings are those of one fold;
    the facts (counted once per transition) are those of the same slices as batches."""
    events = scenario()
    random.Random(7).shuffle(events)
    slices = [located(events[i : i + 3]) for i in range(0, len(events), 3)]
    whole = step_parcels(located(events), lambda *_: None, network, RuleConfig(), RunState())
    sliced = Effects()
    lookup, state = folded_first(sliced, lambda *_: None), RunState()
    for part in slices:
        step_parcels(part, lookup, network, RuleConfig(), state, sliced)
    stored: dict[str, ParcelPath] = {}
    batches, state = [], RunState()
    for part in slices:
        fx = step_parcels(part, lambda pid, _: stored.get(pid), network, RuleConfig(), state)
        stored.update(fx.states.get(0, {}))
        batches.append(fx)

    assert sliced.states == whole.states and sliced.read_model.paths == whole.read_model.paths
    assert {c.violation_id for c in sliced.candidates} == {c.violation_id for c in whole.candidates}
    assert {k: set(v) for k, v in sliced.holds.items()} == {
        k: set(v) for k, v in whole.holds.items()
    }
    rm = sliced.read_model
    assert rm.parcels_seen == [x for b in batches for x in b.read_model.parcels_seen]
    assert rm.deliveries == [x for b in batches for x in b.read_model.deliveries]
    assert rm.complaints == [x for b in batches for x in b.read_model.complaints]
    assert sliced.signoffs == [x for b in batches for x in b.signoffs]
    assert sliced.metrics.dwell_h == [x for b in batches for x in b.metrics.dwell_h]
    assert sliced.metrics.scans == sum((b.metrics.scans for b in batches), Counter())


def test_signoffs_are_sent_once_the_destination_is_known(network):
    delivered = scan("L1", "delivered", 720, "P-APPLE", courier="K-9")
    first = scan("L1", "arrived", 0, "C-1", dest=APPLE)
    store = MemoryParcels()
    state = RunState()
    fx = step_parcels(located([delivered]), store.get, network, RuleConfig(), state)
    store.put_many(0, fx.states[0])
    assert fx.signoffs == []
    fx = step_parcels(located([first]), store.get, network, RuleConfig(), state)
    assert [r.signoff.event_id for r in fx.signoffs] == [delivered.event_id]
    assert fx.signoffs[0].town == "990001101"


def test_first_delivery_and_end_to_end_are_counted_once_and_repeats_cost_nothing(network):
    events = [*inbound_path("D1"), scan("D1", "delivered", 720, "P-APPLE")]
    store, state = MemoryParcels(), RunState()
    fx = step_parcels(located(events), store.get, network, RuleConfig(), state)
    store.put_many(0, fx.states[0])
    (d,) = fx.read_model.deliveries
    assert d.end_to_end_h == 12.0 and sum(fx.metrics.deliveries.values()) == 1
    again = step_parcels(located(events[-1:]), store.get, network, RuleConfig(), state)
    assert again.duplicates == 1
    assert not again.read_model and not again.states and not again.candidates


def test_a_waybill_number_used_again_after_the_retention_period_starts_afresh(network):
    old = scan("E1", "arrived", 0, "C-1", dest=APPLE)
    store = MemoryParcels({"E1": ParcelPath("E1", (old,))})
    later = scan("E1", "arrived", 31 * 24 * 60, "C-1", dest=CEDAR)
    fx = step_parcels(located([later]), store.get, network, RuleConfig(), RunState())
    assert fx.states[0]["E1"].scans == (later,)


def test_idle_parcels_expire_at_the_watermark(network):
    state = RunState()
    store = MemoryParcels()
    fx = step_parcels(located(inbound_path("X1")), store.get, network, RuleConfig(), state)
    store.put_many(0, fx.states[0])
    fx = step_parcels(
        located([scan("Y1", "arrived", 40 * 24 * 60, "C-1", dest=APPLE)]),
        store.get,
        network,
        RuleConfig(),
        state,
    )
    expire(state, [0], RuleConfig(), fx)
    assert fx.expired == {0: ["X1"]}
    assert fx.read_model.expired_paths == ["X1"]  # its Redis timeline goes too


async def test_state_is_stored_only_after_the_broker_acknowledged(network):
    """A broker that never answers: the batch never completes and stores nothing, so a
    replay after a crash finds the events new and causes their effects again."""
    events = [*inbound_path("W1"), scan("W1", "delivered", 720, "T-E")]
    outbox = MemoryOutbox(acknowledge=False)
    p = ports(outbox)
    fx = step_parcels(located(events), p.parcels.get, network, RuleConfig(), RunState())
    task = asyncio.ensure_future(Runner(p, network, RuleConfig()).apply(fx))
    await asyncio.sleep(0.05)
    assert outbox.violations, "the violation was handed to the producer"
    assert not task.done() and p.parcels.paths == {}, "no state before the acknowledgement"
    task.cancel()  # the process dies here: what it staged in memory dies with it
    replay = ports(MemoryOutbox(), gate=MemoryGate(), parcels=MemoryParcels(p.parcels.paths))
    fx = step_parcels(located(events), replay.parcels.get, network, RuleConfig(), RunState())
    await Runner(replay, network, RuleConfig()).apply(fx)
    assert replay.outbox.violations == outbox.violations, "the replay causes them again"
    assert "W1" in replay.parcels.paths


async def test_a_hold_is_released_only_after_its_violation_is_acknowledged(network):
    """Issue 15: a stand-in producer that never acknowledges keeps the hold; after the
    crash the next runner publishes the violation once and releases the hold."""
    events = [
        *inbound_path("M1"),
        scan("M1", "delivered", 600, "P-APPLE"),
        scan("M1", "departed", 640, "P-APPLE"),  # moved after the sign-off: held
    ]
    clock, holds, parcels = Clock(), MemoryHolds(hold_s=5.0), MemoryParcels()
    p = ports(MemoryOutbox(acknowledge=False), clock, holds=holds, parcels=parcels)
    fx = step_parcels(located(events), parcels.get, network, RuleConfig(), RunState())
    assert fx.holds and not fx.candidates
    p.outbox.acknowledge = True  # the batch itself goes through
    await Runner(p, network, RuleConfig()).apply(fx)
    assert p.outbox.violations == [] and list(holds.items) == [HoldKey(0, "M1")]
    clock.now += timedelta(seconds=10)
    p.outbox.acknowledge = False
    due = await holds.due(clock.now.timestamp())
    release = asyncio.ensure_future(Runner(p, network, RuleConfig()).release_due(due, TOPIC))
    await asyncio.sleep(0.05)
    assert len(p.outbox.violations) == 1 and not release.done()
    release.cancel()  # the process dies between the publish and the acknowledgement
    assert list(holds.items) == [HoldKey(0, "M1")], "the hold outlives the unacknowledged send"
    after = ports(MemoryOutbox(), clock, holds=holds, parcels=parcels)  # restarted: a new gate
    n = await Runner(after, network, RuleConfig()).release_due(
        await holds.due(clock.now.timestamp()), TOPIC
    )
    assert n == 1 and [v["rule"] for v in after.outbox.violations] == ["movement_after_signoff"]
    assert holds.items == {}


async def test_an_unacknowledged_release_keeps_the_hold_and_its_claim_for_a_retry(network):
    events = [
        *inbound_path("M2"),
        scan("M2", "delivered", 600, "P-APPLE"),
        scan("M2", "departed", 640, "P-APPLE"),
    ]
    clock, holds, parcels = Clock(), MemoryHolds(hold_s=0.0), MemoryParcels()
    p = ports(MemoryOutbox(), clock, holds=holds, parcels=parcels)
    runner = Runner(p, network, RuleConfig())
    await runner.apply(
        step_parcels(located(events), parcels.get, network, RuleConfig(), RunState())
    )

    async def refused(violation, source):
        fut = asyncio.get_running_loop().create_future()
        fut.set_exception(TimeoutError("no acknowledgement"))
        return fut

    p.outbox.violation = refused  # type: ignore[method-assign]
    with pytest.raises(TimeoutError):
        await runner.release_due(await holds.due(clock.now.timestamp()), TOPIC)
    assert list(holds.items) == [HoldKey(0, "M2")] and not p.gate.ids
    p.outbox.violation = MemoryOutbox.violation.__get__(p.outbox)  # type: ignore[method-assign]
    assert await runner.release_due(await holds.due(clock.now.timestamp()), TOPIC) == 1


def test_bulk_signoff_across_parcels_in_one_courier_window(network):
    from lastmile.domain.bulk import Signoff

    villages = ["990001101001", "990001101002", "990001101003"]
    records = []
    for i in range(10):
        at = NOW + timedelta(seconds=5 * i)
        s = Signoff(at.timestamp(), f"S{i}", "K-7", f"B{i}", villages[i % 3], "YTO", at)
        records.append(SignoffRecord(s, "990001101", False, "YTO"))
    stored = MemoryCouriers()
    fx = step_couriers({"K-7": records[:5]}, stored, network, RuleConfig(), "so", 1)
    stored.put_many(fx)
    assert fx.candidates == []
    fx = step_couriers({"K-7": records[5:] + records[3:4]}, stored, network, RuleConfig(), "so", 1)
    assert sorted(c.finding.parcel_id for c in fx.candidates) == [f"B{i}" for i in range(10)]
    assert {c.source for c in fx.candidates} == {"so:1"}


def test_path_and_signoff_codecs_round_trip(network):
    events = [
        *inbound_path("P1"),
        scan("P1", "fee_charged", 710, "P-APPLE", fee=(3.5, "other")),
        scan("P1", "handover", 711, "T-E", to_carrier="EMS"),
        scan("P1", "delivered", 720, "P-APPLE", courier="K-1"),
    ]
    path = ParcelPath(
        "P1",
        tuple(sorted(events, key=lambda e: (e.ts, e.event_id))),
        (complaint("P1", "extra_fee", 800),),
    )
    assert decode_path(encode_path(path)) == path
    utc = ParcelPath(
        "P1",
        tuple(e._replace(occurred_at=e.occurred_at.astimezone(UTC)) for e in path.scans),
        path.complaints,
    )
    assert decode_path(encode_path(utc)) == utc == path  # "Z" reads back as the same time
    import orjson

    written_before = orjson.dumps(  # how paths were written until msgspec encoded them
        ["p1", path.parcel_id, path.scans, [tuple(c) for c in path.complaints]], default=tuple
    )
    assert decode_path(written_before) == path
    (s,) = analyse_parcel(path, network, RuleConfig()).signoffs
    records = [SignoffRecord(s, "990001101", False, "ZTO")]
    assert decode_signoffs(encode_signoffs(records)) == records
    import orjson

    legacy_message = orjson.dumps(
        [
            "s1",
            s.ts,
            s.event_id,
            s.courier_id,
            s.parcel_id,
            s.village,
            s.carrier,
            s.occurred_at.isoformat(),
            "990001101",
            False,
            "ZTO",
        ]
    )
    legacy_table = orjson.dumps([[[*s[:6], s.occurred_at.isoformat()], "990001101", False, "ZTO"]])
    assert decode_signoffs(legacy_message) == records == decode_signoffs(legacy_table)


def test_expiry_index_drops_parcels_idle_longer_than_the_retention():
    index = ExpiryIndex()
    index.touch(0, "A", 100.0)
    index.touch(0, "B", 200.0)
    index.touch(1, "C", 300.0)
    index.touch(0, "A", 100.0)  # noted once
    assert len(index) == 3
    index.touch(0, "A", 260.0)  # touched again since it was noted
    assert index.expired(0, 250.0) == ["B"]
    assert index.expired(0, 250.0) == []
    assert index.expired(0, 1000.0) == ["A"]
    index.drop_partition(1)  # moved to another worker
    assert index.expired(1, 1000.0) == [] and len(index) == 0


def test_effects_of_an_empty_batch_are_empty(network):
    fx = step_parcels([], MemoryParcels().get, network, RuleConfig(), RunState())
    assert fx == Effects()


async def test_a_hold_whose_parcel_is_not_readable_yet_is_kept(network):
    """After a restart the table may still be recovering: the hold waits for it."""
    holds = MemoryHolds(hold_s=0.0)
    await holds.hold([HoldKey(3, "GONE")], NOW.timestamp())
    p = ports(holds=holds)
    due = await holds.due(NOW.timestamp())
    assert await Runner(p, network, RuleConfig()).release_due(due, TOPIC) == 0
    assert list(holds.items) == [HoldKey(3, "GONE")]


async def test_a_hold_renewed_while_its_parcel_is_judged_is_not_released(network):
    """The release judges the parcel's stored path; a complaint processed meanwhile renews
    the hold before its path is stored. Removing the hold then would lose the complaint's
    violation for good: the release removes only a hold whose time it read."""
    clock, holds, parcels = Clock(), MemoryHolds(hold_s=5.0), MemoryParcels()
    p = ports(MemoryOutbox(), clock, holds=holds, parcels=parcels)
    runner = Runner(p, network, RuleConfig())
    delivered = [*inbound_path("K1"), scan("K1", "delivered", 600, "P-APPLE")]
    moved = scan("K1", "departed", 640, "P-APPLE")  # held: movement after the sign-off
    await runner.apply(
        step_parcels(located([*delivered, moved]), parcels.get, network, RuleConfig(), RunState())
    )
    clock.now += timedelta(seconds=10)
    due = await holds.due(clock.now.timestamp())
    late = complaint("K1", "not_received", 900)  # arrives while the release is under way
    fx = step_parcels(located([late]), parcels.get, network, RuleConfig(), RunState())
    await holds.hold(fx.holds, clock.now.timestamp())  # the batch renewed the hold...
    assert await runner.release_due(due, TOPIC) == 1  # ...judged on the path without it
    assert list(holds.items) == [HoldKey(0, "K1")], "the renewed hold stays"
    parcels.put_many(0, fx.states[0])  # the batch finishes: its path is stored
    clock.now += timedelta(seconds=10)
    assert await runner.release_due(await holds.due(clock.now.timestamp()), TOPIC) == 1
    assert sorted(v["rule"] for v in p.outbox.violations) == [
        "complaint",
        "movement_after_signoff",
    ]


async def test_a_hold_is_judged_and_released_only_while_its_partition_stays_settled(network):
    """Worker churn: a partition moved back to a worker whose local store is still
    recovering shows an older path. The release neither judges while a rebalance is under
    way nor releases if one began while it published; the next settled owner judges again."""
    clock, holds, parcels = Clock(), MemoryHolds(hold_s=0.0), MemoryParcels()
    p = ports(MemoryOutbox(), clock, holds=holds, parcels=parcels)
    runner = Runner(p, network, RuleConfig())
    events = [
        *inbound_path("R1"),
        scan("R1", "delivered", 600, "P-APPLE"),
        scan("R1", "departed", 640, "P-APPLE"),
    ]
    await runner.apply(
        step_parcels(located(events), parcels.get, network, RuleConfig(), RunState())
    )
    due = await holds.due(clock.now.timestamp())
    assert await runner.release_due(due, TOPIC, owned=lambda: False) == 0
    assert p.outbox.violations == [] and list(holds.items) == [HoldKey(0, "R1")]

    answers = iter([True, False])  # settled when judged; a rebalance began while publishing
    assert await runner.release_due(due, TOPIC, owned=lambda: next(answers)) == 1
    assert list(holds.items) == [HoldKey(0, "R1")], "published, but the hold stays"
    assert await runner.release_due(await holds.due(clock.now.timestamp()), TOPIC) == 0
    assert holds.items == {}, "settled again: judged, nothing new to publish, released"
    assert [v["rule"] for v in p.outbox.violations] == ["movement_after_signoff"]


async def test_a_batch_begun_before_the_previous_finished_folds_on_its_staged_paths(network):
    """The worker begins batch 2 while batch 1 waits for the broker (ADR 0005): batch 2
    must see batch 1's paths, and nothing is stored until each batch is acknowledged."""
    outbox, parcels = MemoryOutbox(acknowledge=False), MemoryParcels()
    p = ports(outbox, parcels=parcels)
    runner, state = Runner(p, network, RuleConfig()), RunState()
    first = step_parcels(located(inbound_path("S1")), parcels.get, network, RuleConfig(), state)
    applying_first = await runner.begin(first)
    delivered = [scan("S1", "delivered", 720, "T-E")]  # signed off at the town centre
    second = step_parcels(located(delivered), parcels.get, network, RuleConfig(), state)
    assert [e.event_id for e in second.states[0]["S1"].scans][-1] == delivered[0].event_id
    assert len(second.states[0]["S1"].scans) == len(inbound_path("S1")) + 1, "folded on batch 1"
    applying_second = await runner.begin(second)
    assert "left_at_town_or_county" in {v["rule"] for v in outbox.violations}
    assert parcels.paths == {}, "nothing stored before the acknowledgements"
    await runner.finish(applying_first)  # batch 1 sent nothing: nothing to wait for
    assert len(parcels.paths["S1"].scans) == len(inbound_path("S1"))
    assert parcels.get("S1") is second.states[0]["S1"], "batch 2's staged path still wins"
    finishing = asyncio.ensure_future(runner.finish(applying_second))
    await asyncio.sleep(0.01)
    assert not finishing.done(), "batch 2 waits for the broker"
    for fut in outbox.pending:
        fut.set_result(None)
    await finishing
    assert parcels.paths["S1"] is second.states[0]["S1"] and parcels.staged == {}


class CountingCouriers(MemoryCouriers):
    """MemoryCouriers that remembers which hours were read; may hold a first-layout value."""

    def __init__(self, legacy: list[SignoffRecord] | None = None) -> None:
        super().__init__()
        self.read: list[str] = []
        self.legacy = legacy or []

    def index(self, courier, partition=0):
        index, _ = super().index(courier, partition)
        legacy, self.legacy = self.legacy, []
        return index, legacy

    def records(self, key, partition=0):
        self.read.append(key)
        return super().records(key, partition)


def signoff_at(i: int, at: datetime, village: str) -> SignoffRecord:
    s = Signoff(at.timestamp(), f"S{i}", "K-9", f"B{i}", village, "YTO", at)
    return SignoffRecord(s, "990001101", False, "YTO")


def test_a_couriers_batch_reads_only_the_hours_near_its_signoffs_and_forgets_old_ones(network):
    """Courier state in hour buckets: a batch costs the same on a courier's first day and
    on its thirtieth, and hours past the retention period are deleted."""
    village = "990001101001"
    stored, config = CountingCouriers(), RuleConfig()
    day0 = NOW.replace(hour=8, minute=0, second=0, microsecond=0)
    for d in range(3):  # three days of one sign-off an hour, stored in earlier batches
        batch = [
            signoff_at(100 * d + h, day0 + timedelta(days=d, hours=h), village) for h in range(8)
        ]
        stored.put_many(step_couriers({"K-9": batch}, stored, network, config, "so", 0))
    stored.read.clear()
    late = signoff_at(999, day0 + timedelta(days=1, hours=3, minutes=30), village)
    fx = step_couriers({"K-9": [late]}, stored, network, config, "so", 0)
    hour = int(late.signoff.ts // 3600)
    assert stored.read == [f"K-9@{hour}"], "only the hour around the new sign-off is read"
    assert list(fx.states) == [f"K-9@{hour}"] and len(fx.states[f"K-9@{hour}"]) == 2
    stored.put_many(fx)
    much_later = signoff_at(1000, day0 + timedelta(days=40), village)
    fx = step_couriers({"K-9": [much_later]}, stored, network, config, "so", 0)
    assert len(fx.deleted) == 24, "the first three days' hours are past the 30 days"
    assert fx.indexes["K-9"].hours == (int(much_later.signoff.ts // 3600),)


def test_a_courier_stored_in_the_first_layout_is_split_into_hours_once(network):
    village = "990001101001"
    at = NOW.replace(minute=0, second=0, microsecond=0)
    old = [signoff_at(i, at + timedelta(minutes=20 * i), village) for i in range(6)]
    stored = CountingCouriers(legacy=old)
    new = [signoff_at(7, at + timedelta(hours=5), village)]
    fx = step_couriers({"K-9": new}, stored, network, RuleConfig(), "so", 0)
    assert sum(len(v) for v in fx.states.values()) == 7, "all of the old value, and the new one"
    assert set(fx.indexes["K-9"].hours) == {int(r.signoff.ts // 3600) for r in [*old, *new]}
    assert fx.candidates == []
