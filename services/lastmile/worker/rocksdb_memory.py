"""One RocksDB memory budget for the whole worker, whatever the partitions it owns.

Faust opens one RocksDB database per table partition, each with the block cache and write
buffers its options give. Bounded per partition, a worker owning the 4 partitions of the two
tables held 8 budgets; the write buffers (memtables) filled for many minutes before their
first flush, and the soak showed the worker's RSS and its write-ahead log on disk growing
together at the rate the paths were written (docs/reliability.md, "Soak").

Here every database a worker opens shares one LRU block cache of
``LASTMILE_ROCKSDB_MEMORY_MB`` and one write-buffer manager that charges the memtables to
that cache (up to half of it): when the worker's memtables together reach that half, the one
being written is flushed, and index and filter blocks are held in the same cache. So the
RocksDB memory of a worker stays within one figure, and the write-ahead log (deleted once
its memtables are flushed) with it. ADR 0013.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import rocksdict
from faust.stores.rocksdb import RocksDBOptions

MIB = 1024 * 1024
WRITE_BUFFERS_PER_DB = 2  # one being written, one being flushed


class SharedMemoryOptions(RocksDBOptions):
    """Faust's options for one partition's database, with the worker's shared cache and
    write-buffer manager (Faust calls ``as_options`` each time it opens a partition)."""

    def __init__(self, budget: RocksDBBudget) -> None:
        super().__init__(
            write_buffer_size=budget.write_buffer_size,
            max_write_buffer_number=WRITE_BUFFERS_PER_DB,
            use_rocksdict=True,
        )
        self.budget = budget

    def as_options(self) -> rocksdict.Options:
        opts = rocksdict.Options(raw_mode=True)
        opts.create_if_missing(True)
        if self.max_open_files is not None:
            opts.set_max_open_files(self.max_open_files)
        opts.set_write_buffer_size(self.write_buffer_size)
        opts.set_max_write_buffer_number(self.max_write_buffer_number)
        opts.set_target_file_size_base(self.target_file_size_base)
        opts.set_write_buffer_manager(self.budget.manager)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, True)
        table.set_block_cache(self.budget.cache)
        table.set_cache_index_and_filter_blocks(True)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        opts.set_block_based_table_factory(table)
        return opts


class RocksDBBudget:
    """The worker's RocksDB memory: one block cache, memtables charged to it."""

    def __init__(self, memory_mb: int) -> None:
        total = memory_mb * MIB
        self.total = total
        self.cache = rocksdict.Cache(total)
        self.manager = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            total // 2, False, self.cache
        )
        # one database's memtable alone never takes more than a quarter of the memtables' half
        self.write_buffer_size = max(MIB, total // 8)

    def usage(self) -> int:
        """Bytes held now: cached blocks, index and filter blocks, memtables."""
        return int(self.cache.get_usage())

    def attach(self, tables: Iterable[Any]) -> None:
        """Give these Faust tables' RocksDB stores the shared budget (before they open a
        partition: call it when the tables are built)."""
        for table in tables:
            store = table.data
            if not getattr(store, "use_rocksdict", False):
                raise ValueError(
                    f"table {table.name!r}: the RocksDB memory budget needs the rocksdict "
                    "driver (pip install rocksdict)"
                )
            store.rocksdb_options = SharedMemoryOptions(self)
