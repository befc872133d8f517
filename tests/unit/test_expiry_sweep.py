"""Parcels left in a RocksDB store across a restart join the expiry index (worker/expiry_sweep.py).

A real Faust table on a real RocksDB store (rocksdict) in a temporary directory: paths are
stored the way the worker stores them, then a "restarted" worker (a fresh RunState) walks
the store and expires them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from builders import APPLE, TINY_NETWORK, inbound_path, scan
from lastmile.domain.network import parse_network
from lastmile.domain.path import ParcelPath
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.effects import Effects
from lastmile.pipeline.parcels import expire
from lastmile.pipeline.runstate import RunState
from lastmile.settings import Settings
from lastmile.worker.app import create_worker
from lastmile.worker.expiry_sweep import ExpirySweep

DAY_MIN = 24 * 60


def worker(tmp_path: Path) -> Any:
    settings = Settings(
        store="rocksdb://",
        data_dir=str(tmp_path),
        app_id="expiry-sweep-test",
        kafka_bootstrap="127.0.0.1:1",
        redis_url="redis://127.0.0.1:1/0",
    )
    return create_worker(settings, parse_network(TINY_NETWORK), RuleConfig())


def path_of(parcel: str, minutes: float = 0) -> ParcelPath:
    scans = inbound_path(parcel)
    return ParcelPath(parcel, (*scans, scan(parcel, "delivered", minutes + 700, "P-APPLE")))


async def stored(parcels: Any) -> None:
    """Hand the stored paths over and wait until they are in the store (no producer here)."""
    await (await parcels.hand_over())


async def test_a_restarted_worker_expires_parcels_it_never_touched(tmp_path: Path) -> None:
    w = worker(tmp_path)
    parcels = w.ports.parcels
    old = {f"OLD{i}": path_of(f"OLD{i}") for i in range(7)}
    parcels.put_many(1, old)
    parcels.put_many(2, {"OTHER": path_of("OTHER")})
    restarted = RunState()  # the index is memory: empty after a restart
    recent = scan("NEW", "arrived", 3 * DAY_MIN, "C-1", dest=APPLE)
    restarted.expiry.touch(1, "NEW", recent.ts)  # touched by a batch since the restart
    restarted.watermark = recent.ts
    parcels.put_many(1, {"NEW": ParcelPath("NEW", (recent,))})
    await stored(parcels)
    tp = type("TP", (), {"topic": "changelog", "partition": 1})()
    parcels.table.data.set_persisted_offset(tp, 41)  # Faust's own key in the same store

    sweep = ExpirySweep(parcels.table, restarted.expiry, slice_size=3)
    sweep.assigned([1])
    steps = 0
    while not sweep.done:
        steps += 1
        sweep.step()
    assert steps == 3  # 8 parcels of partition 1, 3 a slice; partition 2 is not this worker's
    assert sweep.indexed == 7 and "OTHER" not in restarted.expiry

    fx = Effects()
    expire(restarted, [1], RuleConfig(retention_days=1), fx)
    assert sorted(fx.expired[1]) == sorted(old)  # "NEW" is recent: kept
    assert sorted(fx.read_model.expired_paths) == sorted(old)
    parcels.delete_many(1, fx.expired[1])
    assert all(parcels.get(pid, 1) is None for pid in old), "read as deleted before the store"
    await stored(parcels)
    assert all(parcels.get(pid, 1) is None for pid in old)
    assert parcels.get("NEW", 1) is not None


async def test_a_parcel_touched_meanwhile_keeps_its_newer_time(tmp_path: Path) -> None:
    w = worker(tmp_path)
    parcels = w.ports.parcels
    parcels.put_many(0, {"P1": path_of("P1")})
    await stored(parcels)
    state = RunState()
    newer = path_of("P1").last_ts + 5 * 86400
    state.expiry.touch(0, "P1", newer)
    sweep = ExpirySweep(parcels.table, state.expiry)
    sweep.assigned([0])
    sweep.step()
    assert sweep.done and sweep.indexed == 0
    assert state.expiry.expired(0, newer) == []  # not before its newer time
    assert state.expiry.expired(0, newer + 1) == ["P1"]


async def test_a_revoked_partition_is_not_walked(tmp_path: Path) -> None:
    w = worker(tmp_path)
    w.ports.parcels.put_many(3, {"P3": path_of("P3")})
    await stored(w.ports.parcels)
    state = RunState()
    sweep = ExpirySweep(w.ports.parcels.table, state.expiry)
    sweep.assigned([3])
    sweep.revoked([3])
    assert sweep.step() == 0 and sweep.done and "P3" not in state.expiry
