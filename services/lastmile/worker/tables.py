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
from collections.abc import Awaitable, Callable, Iterable, Mapping
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
from lastmile.worker.batch_send import Record, SentBatch, faust_producer, send_batches

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
    """Writes a Faust table's changelog records and then its store, directly.

    ``table[key] = value`` sends each changelog record through Faust's per-message path
    (its producer buffer, a FutureMessage, Topic.publish_message): ~230 µs a record
    here, most of a batch's time (docs/benchmarks.md). This writes the same thing in
    the same places: a changelog record with the key bytes Faust's own serializers give
    and the value bytes as they are, handed to the producer as one record batch per
    partition (worker/batch_send.py), and the store column of the record's partition
    (RocksDB or memory). Faust's recovery reads these records like its own.

    **The local store never runs ahead of the changelog.** A record reaches the store
    only once the broker has acknowledged it, in the order the records were handed over,
    and the persisted changelog offset Faust keeps in each RocksDB column moves after
    that. A worker killed in between finds its store behind the changelog, and Faust's
    recovery (from the persisted offset) fills it in. The other way round, a store ahead
    of a changelog that lost its records to a crash, would make a replayed batch look
    done on this worker while every other owner's copy lacks its events (the three-worker
    churn test lost violations so, ADR 0001). Until a record is in the store, the reader
    keeps the value itself (``TableParcels.writing``).
    """

    def __init__(self, table: Any, source_topic: str) -> None:
        self.table = table
        self.source_topic = source_topic
        self._pending: list[tuple[int, str, bytes | None]] = []
        self._stored: asyncio.Future[None] | None = None  # the last hand-over's store writes

    def set(self, partition: int, key: str, value: bytes) -> None:
        self._pending.append((partition, key, value))

    def delete(self, partition: int, key: str) -> None:
        self._pending.append((partition, key, None))

    async def flush(self) -> None:
        """Hand the pending records over and wait until they are durable and stored."""
        await (await self.hand_over())

    async def hand_over(self, then: Callable[[], None] | None = None) -> Awaitable[None]:
        """Send the pending changelog records; returns what resolves once the broker has
        acknowledged them all and they are in the store (after every earlier hand-over's),
        having called ``then``.

        The batch's input offsets are acked only after that: Faust's commit waits only for
        messages *attached* to offsets, not for the producer, so a record still in the
        producer's buffer when an offset is committed would be lost by a crash, and the
        events it held would never be folded again (the churn test lost whole parcels so).
        """
        pending, self._pending = self._pending, []
        table = self.table
        app = table.app
        dumps_key = app.serializers.dumps_key
        by_partition: dict[int, list[Record]] = {}
        for partition, key, value in pending:  # the store's key bytes are the changelog's
            key_bytes = dumps_key(table.key_type, key, serializer=table.key_serializer)
            by_partition.setdefault(partition, []).append((key_bytes, value, None))
        sent: list[SentBatch] = []
        if by_partition and app.producer.started:  # (handler tests: no producer, store only)
            topic = table.changelog_topic.get_topic_name()
            sent = await send_batches(faust_producer(app), topic, by_partition)
        stored = asyncio.ensure_future(self._store(self._stored, pending, by_partition, sent, then))
        self._stored = stored
        return stored

    async def _store(
        self,
        before: asyncio.Future[None] | None,
        pending: list[tuple[int, str, bytes | None]],
        by_partition: dict[int, list[Record]],
        sent: list[SentBatch],
        then: Callable[[], None] | None,
    ) -> None:
        if sent:
            await asyncio.gather(*(b.future for b in sent))
        if before is not None:  # in hand-over order; its failure stops this one too
            await before
        offsets = {b.partition: b.last_offset() for b in sent}  # in order: the last is newest
        store = self.table.data
        if type(store).__module__ == "faust.stores.rocksdb":
            for partition, records in by_partition.items():
                _write_rocksdb(store, partition, records, offsets.get(partition))
        else:  # memory:// (tests, the demo): keyed by the key itself, under its partition
            for partition, key, value in pending:
                _context.enter(self.source_topic, partition)
                if value is not None:
                    store[key] = value
                elif key in store:
                    del store[key]
            for b in sent:
                tp = b.future.result().topic_partition
                store.set_persisted_offset(tp, offsets[b.partition])
        if then is not None:
            then()


def _write_rocksdb(store: Any, partition: int, records: list[Record], offset: int | None) -> None:
    """One partition's records and its persisted changelog offset in one RocksDB write
    batch, as Faust's own recovery writes them (``apply_changelog_batch``): atomic, and a
    write to the log once rather than per record."""
    from rocksdict import WriteBatch  # the rocksdb extra: only with a rocksdb:// store

    batch = WriteBatch(raw_mode=True)
    for key_bytes, value, _ in records:
        if key_bytes is None:  # as Faust's own store refuses it
            raise TypeError("a table key cannot be None")
        if value is None:
            batch.delete(key_bytes)
        else:
            batch.put(key_bytes, value)
    if offset is not None:
        batch.put(store.offset_key, str(offset).encode())
    store._db_for_partition(partition).write(batch)


def _read_through(reader: Any, key: str, partition: int, decode: Callable[[bytes], V]) -> V | None:
    """A decoded value from ``reader.cache``, else from its table's store (under the key's
    partition: RocksDB reads only that partition's column), decoded and cached."""
    value: V | None = reader.cache.get(key)
    if value is None:
        _context.enter(reader.source_topic, partition)
        data = reader.table.get(key)
        if data is None:
            return None
        value = decode(data)
        reader.cache.put(key, value)
    return value


_GONE = object()  # not in ``writing``


class TableParcels:
    """Parcel paths in the ``parcels`` table (bytes: io/codec.py).

    A path is, in turn: *staged* (its batch has begun: the next batch folds on it),
    *writing* (stored by its batch, its changelog record not yet acknowledged, so not yet
    in the store: ``ChangelogWriter``), then in the store, with a bounded cache of decoded
    paths in front. ``get`` looks in that order; ``None`` in ``writing`` is a deletion.
    """

    def __init__(self, table: Any, source_topic: str, cache_size: int) -> None:
        self.table = table
        self.source_topic = source_topic
        self.writer = ChangelogWriter(table, source_topic)
        self.cache: TwoGenerationCache[ParcelPath] = TwoGenerationCache(cache_size)
        self.staged: dict[str, ParcelPath] = {}  # of batches begun: not stored yet
        self.writing: dict[str, ParcelPath | None] = {}  # stored, not in the store yet
        self._batch: dict[str, ParcelPath | None] = {}  # what the next hand-over writes

    def get(self, parcel_id: str, partition: int) -> ParcelPath | None:
        path = self.staged.get(parcel_id)
        if path is not None:
            return path
        if self.writing:
            written = self.writing.get(parcel_id, _GONE)
            if written is not _GONE:
                return written  # type: ignore[return-value]
        return _read_through(self, parcel_id, partition, decode_path)

    def stage(self, paths: Mapping[str, ParcelPath]) -> None:
        self.staged.update(paths)

    def put_many(self, partition: int, paths: Mapping[str, ParcelPath]) -> None:
        writer, cache, writing, batch = self.writer, self.cache, self.writing, self._batch
        for pid, path in paths.items():
            writer.set(partition, pid, encode_path(path))
            cache.put(pid, path)
            writing[pid] = batch[pid] = path
        unstage(self.staged, paths)

    def delete_many(self, partition: int, parcel_ids: Iterable[str]) -> None:
        for pid in parcel_ids:
            if pid in self.staged:
                continue  # a later batch has a new path for this waybill number
            self.cache.drop(pid)
            self.writing[pid] = self._batch[pid] = None
            self.writer.delete(partition, pid)

    def forget(self) -> None:
        """Partitions moved (every batch under way has finished first: Faust waits)."""
        self.cache.clear()
        self.staged.clear()
        self.writing.clear()

    async def hand_over(self) -> Awaitable[None]:
        batch, self._batch = self._batch, {}
        writing = self.writing

        def in_store() -> None:  # not a newer value a later batch wrote meanwhile
            for pid, value in batch.items():
                if writing.get(pid, _GONE) is value:
                    del writing[pid]

        return await self.writer.hand_over(in_store)


class TableCouriers:
    """Couriers' sign-offs in the ``couriers`` table: hour buckets and an index per courier
    (pipeline/couriers.py); a courier stored in the first layout is read once and split.
    Decoded values are kept in a bounded cache, as the parcels' are: a courier signs for
    parcels all day, and each batch reads its index and its latest hours again."""

    def __init__(self, table: Any, source_topic: str, cache_size: int = 8192) -> None:
        self.table = table
        self.source_topic = source_topic
        self.writer = ChangelogWriter(table, source_topic)
        self.cache: TwoGenerationCache[Any] = TwoGenerationCache(cache_size)

    def index(self, courier: str, partition: int) -> tuple[CourierIndex, list[SignoffRecord]]:
        hit: tuple[CourierIndex, list[SignoffRecord]] | None = self.cache.get(courier)
        if hit is None:
            _context.enter(self.source_topic, partition)
            data = self.table.get(courier)
            hit = (CourierIndex(), []) if data is None else decode_courier_value(data)
            self.cache.put(courier, hit)
        return hit

    def records(self, key: str, partition: int) -> list[SignoffRecord] | None:
        return _read_through(self, key, partition, decode_signoffs)

    def put_many(self, fx: CourierEffects) -> None:
        writer, cache = self.writer, self.cache
        for key, recs in fx.states.items():
            writer.set(fx.partition, key, encode_signoffs(recs))
            cache.put(key, recs)
        for courier, index in fx.indexes.items():
            writer.set(fx.partition, courier, encode_courier_index(index))
            cache.put(courier, (index, []))
        for key in fx.deleted:
            writer.delete(fx.partition, key)
            cache.drop(key)

    def forget(self) -> None:
        """Partitions moved: their couriers are another worker's now."""
        self.cache.clear()

    async def flush(self) -> None:
        await self.writer.flush()
