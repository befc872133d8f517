"""One RocksDB memory budget for all of a worker's partition stores (worker/rocksdb_memory.py).

Real RocksDB databases (rocksdict), opened the way Faust opens a table partition's store.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from faust.stores.rocksdb import RocksDBOptions

from builders import TINY_NETWORK
from lastmile.domain.network import parse_network
from lastmile.domain.rules import RuleConfig
from lastmile.settings import Settings
from lastmile.worker.app import create_worker
from lastmile.worker.rocksdb_memory import MIB, RocksDBBudget, SharedMemoryOptions

DATABASES = 16  # more partition stores than the budget would allow each a write buffer
VALUE = bytes(range(256)) * 4  # 1 KiB


def memtables(dbs: list) -> int:
    return sum(db.property_int_value("rocksdb.cur-size-all-mem-tables") for db in dbs)


def fill(dbs: list, rounds: int) -> int:
    """Write ``rounds`` KiB to every database in turn, as a worker's batches spread over its
    partitions, at a pace RocksDB's background flushes keep up with; the peak of the memtables."""
    peak = 0
    for i in range(rounds):
        key = f"parcel-{i}".encode()
        for db in dbs:
            db[key] = VALUE
        if i % 10 == 9:
            peak = max(peak, memtables(dbs))
            time.sleep(0.005)
    return peak


def test_partition_stores_share_one_budget(tmp_path: Path) -> None:
    budget = RocksDBBudget(8)
    dbs = [SharedMemoryOptions(budget).open(tmp_path / f"p{i}") for i in range(DATABASES)]
    try:
        written = DATABASES * 600 * 1024  # 9.4 MiB: more than the whole budget
        peak = fill(dbs, 600)
        flushed = sum(db.property_int_value("rocksdb.total-sst-files-size") for db in dbs)
        assert peak <= budget.total // 2 + 2 * MIB, (peak / MIB, written / MIB)
        assert flushed > 0  # memtables were flushed to files before any one filled up
        assert 0 < budget.usage() <= budget.total
    finally:
        for db in dbs:
            db.close()


def test_without_the_budget_the_memtables_hold_everything(tmp_path: Path) -> None:
    """The same writes with Faust's per-partition options (what the budget replaced)."""
    per_db = RocksDBOptions(
        block_cache_size=4 * MIB, write_buffer_size=MIB, max_write_buffer_number=2
    )
    dbs = [per_db.open(tmp_path / f"p{i}") for i in range(DATABASES)]
    try:
        peak = fill(dbs, 600)
        assert peak > 8 * MIB
    finally:
        for db in dbs:
            db.close()


def test_worker_tables_share_the_budget(tmp_path: Path) -> None:
    settings = Settings(
        store="rocksdb://",
        data_dir=str(tmp_path),
        app_id="rocksdb-budget-test",
        kafka_bootstrap="127.0.0.1:1",
        redis_url="redis://127.0.0.1:1/0",
        rocksdb_memory_mb=32,
    )
    w = create_worker(settings, parse_network(TINY_NETWORK), RuleConfig())
    options = [t.data.rocksdb_options for t in w.app.tables.values()]
    assert len(options) == 2
    assert all(isinstance(o, SharedMemoryOptions) for o in options)
    budget = options[0].budget
    assert options[1].budget is budget and budget.total == 32 * MIB


def test_budget_refuses_a_store_without_rocksdict(tmp_path: Path) -> None:
    class Table:
        name = "parcels"
        data = type("Store", (), {"use_rocksdict": False})()

    with pytest.raises(ValueError, match="rocksdict"):
        RocksDBBudget(8).attach([Table()])
