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

import weakref
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any, Generic, TypeVar

from faust.streams import _current_event  # partition context for table writes (ADR 0003)

from lastmile.domain.path import ParcelPath
from lastmile.io.codec import decode_path, decode_signoffs, encode_path, encode_signoffs
from lastmile.pipeline.records import SignoffRecord

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


async def drain(table: Any) -> None:
    """Hand every queued changelog record to the Kafka producer.

    Faust queues table changes in its own buffer and, before committing offsets, flushes
    it with a helper that gives up after 0.1 s without progress; a commit could then cover
    records still queued. Draining after each batch keeps the buffer empty at commit time
    (and bounds it: backpressure instead of "producer buffer full").
    """
    buffer = table.app.producer.buffer
    while buffer.size and buffer.state == "running":  # not running: no producer (tests, stop)
        await buffer.flush_atmost(buffer.size)


class TableParcels:
    """Parcel paths in the ``parcels`` table (bytes: io/codec.py)."""

    def __init__(self, table: Any, source_topic: str, cache_size: int) -> None:
        self.table = table
        self.source_topic = source_topic
        self.cache: TwoGenerationCache[ParcelPath] = TwoGenerationCache(cache_size)

    def get(self, parcel_id: str, partition: int) -> ParcelPath | None:
        path = self.cache.get(parcel_id)
        if path is None:
            _context.enter(self.source_topic, partition)  # RocksDB reads the partition's column
            data = self.table.get(parcel_id)
            if data is None:
                return None
            path = decode_path(data)
            self.cache.put(parcel_id, path)
        return path

    def put_many(self, partition: int, paths: Mapping[str, ParcelPath]) -> None:
        _context.enter(self.source_topic, partition)
        table, cache = self.table, self.cache
        for pid, path in paths.items():
            table[pid] = encode_path(path)
            cache.put(pid, path)

    async def flush(self) -> None:
        await drain(self.table)

    def delete_many(self, partition: int, parcel_ids: Iterable[str]) -> None:
        _context.enter(self.source_topic, partition)
        for pid in parcel_ids:
            self.cache.drop(pid)
            if self.table.get(pid) is not None:
                del self.table[pid]


class TableCouriers:
    """A courier's recent sign-offs in the ``couriers`` table."""

    def __init__(self, table: Any, source_topic: str) -> None:
        self.table = table
        self.source_topic = source_topic

    def get(self, courier_id: str, partition: int) -> list[SignoffRecord] | None:
        _context.enter(self.source_topic, partition)
        data = self.table.get(courier_id)
        return None if data is None else decode_signoffs(data)

    def put_many(self, partition: int, records: Mapping[str, list[SignoffRecord]]) -> None:
        _context.enter(self.source_topic, partition)
        for courier, recs in records.items():
            self.table[courier] = encode_signoffs(recs)

    async def flush(self) -> None:
        await drain(self.table)
