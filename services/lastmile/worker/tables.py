"""The Faust tables behind the pipeline's state ports, with a cache of decoded values.

A table read or write must name its partition: Faust takes it from the *current event*
(the changelog record and the RocksDB column both follow it; a RocksDB read looks only in
that partition's column), so each store access sets a stand-in event of the right
partition first (ADR 0003). A read under another partition's event finds nothing: that
is how the first version of this module lost state after a restart with a RocksDB store.
Reads go through a bounded cache of decoded paths in front of the store, so a parcel
touched again soon is not decoded again; the cache is dropped on every rebalance, when
partitions (and so their state) move.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any, Generic, TypeVar

from faust.streams import _current_event  # partition context for table writes (ADR 0003)

from lastmile.domain.path import ParcelPath
from lastmile.io.codec import (
    decode_courier_value,
    decode_path,
    decode_signoffs,
    encode_courier_index,
    encode_path,
    encode_signoffs,
)
from lastmile.pipeline.couriers import CourierEffects, CourierIndex
from lastmile.pipeline.ports import unstage
from lastmile.pipeline.records import SignoffRecord
from lastmile.worker.batch_send import Record, faust_producer, send_batches

V = TypeVar("V")


class TwoGenerationCache(Generic[V]):
    """A bounded map: when the young generation fills, it becomes the old one.

    An entry used again while old is promoted; at most ``capacity`` entries are held, and
    the cost per lookup stays that of two dict lookups.
    """

    def __init__(self, capacity: int) -> None:
        self.half = max(1, capacity // 2)
        self.young: dict[str, V] = {}
        self.old: dict[str, V] = {}

    def __len__(self) -> int:
        return len(self.young) + len(self.old)

    def get(self, key: str) -> V | None:
        v = self.young.get(key)
        if v is None:
            v = self.old.pop(key, None)
            if v is not None:
                self.put(key, v)
        return v

    def put(self, key: str, value: V) -> None:
        if len(self.young) >= self.half and key not in self.young:
            self.old, self.young = self.young, {}
        self.young[key] = value

    def drop(self, key: str) -> None:
        self.young.pop(key, None)
        self.old.pop(key, None)

    def clear(self) -> None:
        self.young.clear()
        self.old.clear()


class _StandInEvent:
    """What Faust's tables read of the current event: ``.message.topic`` and ``.partition``."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, topic: str, partition: int) -> None:
        self.message = SimpleNamespace(topic=topic, partition=partition)


class _PartitionContext:
    """Stand-in events, one per partition, for Faust's current-event partition lookup."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, int], _StandInEvent] = {}

    def enter(self, topic: str, partition: int) -> None:
        ev = self._events.get((topic, partition))
        if ev is None:
            ev = self._events[(topic, partition)] = _StandInEvent(topic, partition)
        _current_event.set(weakref.ref(ev))  # type: ignore[arg-type]


_context = _PartitionContext()


class ChangelogWriter:
    """Writes a Faust table's store and its changelog records directly.

    ``table[key] = value`` sends each changelog record through Faust's per-message path
    (its producer buffer, a FutureMessage, Topic.publish_message): ~230 µs a record
    here, most of a batch's time (docs/benchmarks.md). This writes the same thing in
    the same places: the store column of the record's partition (RocksDB or memory), and
    a changelog record with the key bytes Faust's own serializers give and the value
    bytes as they are, handed to the producer as one record batch per partition
    (worker/batch_send.py). Faust's recovery reads these records like its own. ``flush``
    waits for the broker's acknowledgements, and the worker acks a batch's input only
    after it returned, so the records are durable before any offset that covers them is
    committed. The persisted changelog offset Faust keeps in each RocksDB column is
    updated once a partition's records are acknowledged, as Faust's own callback would.
    """

    def __init__(self, table: Any, source_topic: str) -> None:
        self.table = table
        self.source_topic = source_topic
        self._pending: list[tuple[int, str, bytes | None]] = []

    def set(self, partition: int, key: str, value: bytes) -> None:
        _context.enter(self.source_topic, partition)
        self.table.data[key] = value
        self._pending.append((partition, key, value))

    def delete(self, partition: int, key: str) -> None:
        _context.enter(self.source_topic, partition)
        store = self.table.data
        if key in store:
            del store[key]
            self._pending.append((partition, key, None))

    async def flush(self) -> None:
        """Send the pending changelog records and wait until the broker has them all.

        The batch's input offsets are acked only after this returns: Faust's commit waits
        only for messages *attached* to offsets, not for the producer, so a record still in
        the producer's buffer when an offset is committed would be lost by a crash, and the
        events it held would never be folded again (the churn test lost whole parcels so).
        """
        if not self._pending:
            return
        table = self.table
        app = table.app
        if not app.producer.started:  # no producer (handler tests): the store is enough
            self._pending.clear()
            return
        topic = table.changelog_topic.get_topic_name()
        dumps_key = app.serializers.dumps_key
        by_partition: dict[int, list[Record]] = {}
        pending, self._pending = self._pending, []
        for partition, key, value in pending:
            key_bytes = dumps_key(table.key_type, key, serializer=table.key_serializer)
            by_partition.setdefault(partition, []).append((key_bytes, value, None))
        sent = await send_batches(faust_producer(app), topic, by_partition)
        await asyncio.gather(*(b.future for b in sent))
        for b in sent:  # in order: the last batch of a partition holds its newest offset
            self.table.data.set_persisted_offset(b.future.result().topic_partition, b.last_offset())


class TableParcels:
    """Parcel paths in the ``parcels`` table (bytes: io/codec.py)."""

    def __init__(self, table: Any, source_topic: str, cache_size: int) -> None:
        self.table = table
        self.source_topic = source_topic
        self.writer = ChangelogWriter(table, source_topic)
        self.cache: TwoGenerationCache[ParcelPath] = TwoGenerationCache(cache_size)
        self.staged: dict[str, ParcelPath] = {}  # of batches under way: not stored yet

    def get(self, parcel_id: str, partition: int) -> ParcelPath | None:
        path = self.staged.get(parcel_id)
        if path is not None:
            return path
        path = self.cache.get(parcel_id)
        if path is None:
            _context.enter(self.source_topic, partition)  # RocksDB reads the partition's column
            data = self.table.get(parcel_id)
            if data is None:
                return None
            path = decode_path(data)
            self.cache.put(parcel_id, path)
        return path

    def stage(self, paths: Mapping[str, ParcelPath]) -> None:
        self.staged.update(paths)

    def put_many(self, partition: int, paths: Mapping[str, ParcelPath]) -> None:
        writer, cache = self.writer, self.cache
        for pid, path in paths.items():
            writer.set(partition, pid, encode_path(path))
            cache.put(pid, path)
        unstage(self.staged, paths)

    def forget(self) -> None:
        """Partitions moved (every batch under way has finished first: Faust waits)."""
        self.cache.clear()
        self.staged.clear()

    async def flush(self) -> None:
        await self.writer.flush()

    def delete_many(self, partition: int, parcel_ids: Iterable[str]) -> None:
        for pid in parcel_ids:
            if pid in self.staged:
                continue  # a later batch has a new path for this waybill number
            self.cache.drop(pid)
            self.writer.delete(partition, pid)


class TableCouriers:
    """Couriers' sign-offs in the ``couriers`` table: hour buckets and an index per courier
    (pipeline/couriers.py); a courier stored in the first layout is read once and split."""

    def __init__(self, table: Any, source_topic: str) -> None:
        self.table = table
        self.source_topic = source_topic
        self.writer = ChangelogWriter(table, source_topic)

    def index(self, courier: str, partition: int) -> tuple[CourierIndex, list[SignoffRecord]]:
        _context.enter(self.source_topic, partition)
        data = self.table.get(courier)
        return (CourierIndex(), []) if data is None else decode_courier_value(data)

    def records(self, key: str, partition: int) -> list[SignoffRecord] | None:
        _context.enter(self.source_topic, partition)
        data = self.table.get(key)
        return None if data is None else decode_signoffs(data)

    def put_many(self, fx: CourierEffects) -> None:
        for key, recs in fx.states.items():
            self.writer.set(fx.partition, key, encode_signoffs(recs))
        for courier, index in fx.indexes.items():
            self.writer.set(fx.partition, courier, encode_courier_index(index))
        for key in fx.deleted:
            self.writer.delete(fx.partition, key)

    async def flush(self) -> None:
        await self.writer.flush()
