"""Parcels a worker holds in its RocksDB store but did not touch since it got the partition.

The expiry index (pipeline/runstate.py) learns a parcel when a batch touches it. A parcel
already in the store when a worker starts, or when a partition moves to it, is known to the
index only once it is touched again; a parcel that never is (its path finished before the
restart or the rebalance) would stay in the store and its changelog for ever, one
retention period of parcels more at every restart. So when a partition is assigned, this
walks its store, a slice per tick, and tells the index each parcel's newest event time;
the parcels then expire like any other (deleted from the store, a tombstone on the
changelog, the Redis timeline removed: ``pipeline.parcels.expire``).

The walk only adds what the index does not know (a parcel touched meanwhile is already
there with a time at least as new), reads a RocksDB iterator (a consistent view; writes of
batches meanwhile land in the index through the batches themselves) and runs only while the
partitions are settled (no rebalance, no recovery), between batches on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lastmile.io.codec import decode_path
from lastmile.pipeline.runstate import ExpiryIndex

SLICE = 500  # parcels read per tick: a few milliseconds of decoding between batches


class ExpirySweep:
    def __init__(
        self, table: Any, index: ExpiryIndex, slice_size: int = SLICE, enabled: bool = True
    ) -> None:
        self.enabled = enabled  # RocksDB stores only: Faust's memory store keeps no partitions
        self.table = table
        self.index = index
        self.slice_size = slice_size
        self.pending: dict[int, bytes | None] = {}  # partition → last key read (None: none)
        self.indexed = 0  # parcels the walk taught the index (tests, logs)

    def assigned(self, partitions: Iterable[int]) -> None:
        """Walk these partitions' stores from the start (again, if they came back)."""
        if not self.enabled:
            return
        for p in partitions:
            self.pending[p] = None

    def revoked(self, partitions: Iterable[int]) -> None:
        for p in partitions:
            self.pending.pop(p, None)

    @property
    def done(self) -> bool:
        return not self.pending

    def step(self) -> int:
        """Read up to one slice of the first pending partition; the parcels read."""
        if not self.pending:
            return 0
        partition, after = next(iter(self.pending.items()))
        table = self.table
        store = table.data
        loads_key = table.app.serializers.loads_key
        it = store._db_for_partition(partition).iter()  # Faust opens it if it is not yet
        if after is None:
            it.seek_to_first()
        else:
            it.seek(after)
            if it.valid() and it.key() == after:
                it.next()
        read = 0
        last = after
        while it.valid() and read < self.slice_size:
            last = it.key()
            if last == store.offset_key:  # Faust's persisted changelog offset, not a parcel
                it.next()
                continue
            parcel_id = loads_key(table.key_type, last, serializer=table.key_serializer)
            if parcel_id not in self.index:
                self.index.touch(partition, parcel_id, decode_path(it.value()).last_ts)
                self.indexed += 1
            read += 1
            it.next()
        if it.valid():
            self.pending[partition] = last
        else:
            del self.pending[partition]
        return read
