"""The worker's table store never runs ahead of its changelog (worker/tables.py, ADR 0001).

A stand-in producer whose acknowledgements the test gives by hand: a stored path reaches
the local store only once the broker has acknowledged its changelog record, and only after
every earlier hand-over's; until then the worker reads it from memory. A local store ahead
of a changelog that lost its records to a crash would make a replayed batch look done on
this worker while every other owner's copy lacks its events.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from builders import inbound_path
from lastmile.domain.path import ParcelPath
from lastmile.io.codec import encode_path
from lastmile.pipeline.couriers import CourierEffects, CourierIndex
from lastmile.worker.tables import TableCouriers, TableParcels


class Store(dict[str, bytes]):
    def __init__(self) -> None:
        super().__init__()
        self.persisted: dict[int, int] = {}

    def set_persisted_offset(self, tp: Any, offset: int) -> None:
        self.persisted[tp.partition] = offset


class RecordBatch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []

    def append(
        self, *, key: bytes | None, value: bytes | None, timestamp: Any, headers: Any
    ) -> Any:
        self.records.append((key, value))
        return object()  # aiokafka: metadata, None when the batch is full


class Producer:
    """aiokafka's batch API; each batch's future waits for the test's acknowledgement."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, RecordBatch, asyncio.Future[Any]]] = []
        self.offsets: dict[int, int] = {}

    def create_batch(self) -> RecordBatch:
        return RecordBatch()

    async def send_batch(self, batch: RecordBatch, topic: str, *, partition: int) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((partition, batch, future))
        return future

    def acknowledge(self, i: int) -> None:
        partition, batch, future = self.sent[i]
        base = self.offsets.get(partition, 0)
        self.offsets[partition] = base + len(batch.records)
        tp = SimpleNamespace(topic="changelog", partition=partition)
        future.set_result(SimpleNamespace(topic_partition=tp, offset=base))


def fake_table(store: Store, producer: Producer) -> Any:
    """What the writer reads of a Faust table: its app (producer, key serializer), store,
    changelog topic and key settings."""
    app = SimpleNamespace(
        producer=SimpleNamespace(started=True, _ensure_producer=lambda: producer),
        serializers=SimpleNamespace(dumps_key=lambda t, key, serializer: key.encode()),
    )
    return SimpleNamespace(
        app=app,
        data=store,
        changelog_topic=SimpleNamespace(get_topic_name=lambda: "changelog"),
        key_type=str,
        key_serializer="raw",
        get=store.get,
    )


def parcels() -> tuple[TableParcels, Store, Producer]:
    store, producer = Store(), Producer()
    return TableParcels(fake_table(store, producer), "scans.v1", cache_size=2), store, producer


def path(pid: str, n: int = 3) -> ParcelPath:
    return ParcelPath(pid, inbound_path(pid)[:n])


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_stored_path_reaches_the_store_only_once_its_changelog_is_acknowledged():
    table, store, producer = parcels()
    p1 = path("P1")
    table.put_many(0, {"P1": p1})
    durable = await table.hand_over()
    await settle()
    assert store == {} and not durable.done(), "the store waits for the broker"
    assert table.get("P1", 0) is p1, "the worker reads it from memory meanwhile"
    producer.acknowledge(0)
    await durable
    assert store["P1"] == encode_path(p1) and table.writing == {}
    assert store.persisted == {0: 0}, "the persisted changelog offset moves after the store"


async def test_hand_overs_reach_the_store_in_order_whatever_order_the_broker_answers_in():
    table, store, producer = parcels()
    table.put_many(0, {"P1": path("P1", 2)})
    first = await table.hand_over()
    table.put_many(1, {"P2": path("P2")})
    second = await table.hand_over()
    producer.acknowledge(1)  # another partition: its acknowledgement may come first
    await settle()
    assert store == {} and not second.done(), "the second waits for the first"
    producer.acknowledge(0)
    await asyncio.gather(first, second)
    assert sorted(store) == ["P1", "P2"]


async def test_an_unacknowledged_changelog_leaves_the_store_behind_and_fails_the_batch():
    table, store, producer = parcels()
    table.put_many(0, {"P1": path("P1")})
    durable = await table.hand_over()
    producer.sent[0][2].set_exception(ConnectionError("broker gone"))
    with pytest.raises(ConnectionError):
        await durable
    assert store == {}, "nothing the changelog lacks is in the store"


async def test_a_deletion_reads_as_gone_at_once_and_a_later_batch_keeps_its_newer_path():
    table, store, producer = parcels()
    old, new = path("P1", 2), path("P1", 4)
    table.put_many(0, {"P1": old})
    first = await table.hand_over()
    producer.acknowledge(0)
    await first
    table.delete_many(0, ["P1"])
    deleting = await table.hand_over()
    assert table.get("P1", 0) is None, "deleted before the tombstone is acknowledged"
    table.put_many(0, {"P1": new})  # the same waybill number comes back in the next batch
    again = await table.hand_over()
    producer.acknowledge(1)
    await deleting
    assert "P1" not in store
    assert table.get("P1", 0) is new, "the earlier batch did not drop the newer path"
    producer.acknowledge(2)
    await again
    assert store["P1"] == encode_path(new) and table.writing == {}


async def test_a_couriers_values_are_read_from_the_cache_until_its_partitions_move():
    store, reads = Store(), []
    table = fake_table(store, Producer())
    table.get = lambda key: reads.append(key) or store.get(key)
    couriers = TableCouriers(table, "signoffs.v1")
    couriers.put_many(CourierEffects(0, indexes={"K-1": CourierIndex((10,), 36000.0)}))
    assert couriers.index("K-1", 0) == (CourierIndex((10,), 36000.0), []) and reads == []
    couriers.forget()  # a rebalance: read the store again (empty: nothing was acknowledged)
    assert couriers.index("K-1", 0) == (CourierIndex(), []) and reads == ["K-1"]
