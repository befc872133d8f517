"""The read-model writer alone against a real Redis: CPU per event of a live-sized batch.

    LASTMILE_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_redis_writer.py

A simulated day (bench/_sim.py, Yiyuan, 20,000 parcels, seed 2), in event-time order as a
live topic holds it, is cut into batches of ``--batch`` messages (250: a 50 ms window at
5,000 scans/s) and folded by the pipeline's steps (in memory) into each batch's
``ReadModelWrites``; then ``ReadModelWriter.write`` sends every batch to Redis, one
pipeline each, and the process CPU it took is divided by the events. Keys carry a fresh
prefix and are deleted afterwards. The path encoding of each timeline is included here (in
the worker the table's write shares it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sim import NETWORK, machine, simulated


def batches_of_writes(batch: int, parcels_per_day: int, seed: int) -> tuple[int, list]:  # type: ignore[type-arg]
    from lastmile.domain.network import load_network
    from lastmile.domain.rules import RuleConfig
    from lastmile.pipeline.effects import Effects
    from lastmile.pipeline.intake import decode_batch
    from lastmile.pipeline.memory import MemoryParcels
    from lastmile.pipeline.parcels import expire, step_parcels
    from lastmile.pipeline.produce import step_produce
    from lastmile.pipeline.records import RawMessage
    from lastmile.pipeline.runstate import RunState

    sim = simulated(1, parcels_per_day, seed)
    network, config = load_network(NETWORK), RuleConfig()
    lines = []
    for kind, name in (("scans", "scans.jsonl"), ("complaints", "complaints.jsonl")):
        for raw in (sim / name).read_bytes().splitlines():
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                obj = {}
            obj = obj if isinstance(obj, dict) else {}
            at = str(obj.get("occurred_at") or obj.get("filed_at") or "")
            lines.append((at, kind, str(obj.get("parcel_id") or ""), raw))
    lines.sort(key=lambda x: x[0])
    msgs = [
        RawMessage(kind, f"{kind}.v1", hash(key) % 4, i, key.encode(), raw)
        for i, (_, kind, key, raw) in enumerate(lines)
    ]
    parcels, state, out = MemoryParcels(), RunState(), []
    for i in range(0, len(msgs), batch):
        fx = Effects()
        located = decode_batch(msgs[i : i + batch], fx)
        step_parcels(located, parcels.get, network, config, state, fx)
        step_produce(located, fx, network, config, time.time(), state.watermark)
        expire(state, {0, 1, 2, 3}, config, fx)
        for paths in fx.states.values():
            parcels.paths.update(paths)
        out.append(fx.read_model)
    return len(msgs), out


async def write_all(redis_url: str, writes: list) -> float:  # type: ignore[type-arg]
    from redis.asyncio import Redis

    from lastmile.readmodel.keys import Keys
    from lastmile.readmodel.writer import ReadModelWriter

    redis = Redis.from_url(redis_url)
    keys = Keys(f"bw{uuid.uuid4().hex[:8]}")
    writer = ReadModelWriter(redis, keys)
    try:
        cpu = time.process_time()
        for w in writes:
            await writer.write(w)
        return time.process_time() - cpu
    finally:
        found = [k for m in keys.patterns() async for k in redis.scan_iter(match=m, count=1000)]
        for i in range(0, len(found), 1000):
            await redis.delete(*found[i : i + 1000])
        await redis.aclose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--parcels-per-day", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args()
    redis_url = os.environ.get("LASTMILE_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not redis_url.startswith(("redis://127.0.0.1", "redis://localhost")):
        raise SystemExit(f"refusing non-local Redis {redis_url!r}")
    print(f"# machine: {machine()}")
    events, writes = batches_of_writes(args.batch, args.parcels_per_day, args.seed)
    per_batch = Counter[str]()
    for w in writes:
        per_batch.update(
            paths=len(w.paths),
            first_scans=len(w.parcels_seen),
            deliveries=len(w.deliveries),
            brands=len(w.brands),
            reached=len(w.reached),
        )
    print(
        f"# {events:,} events in {len(writes):,} batches of {args.batch}; per batch: "
        + ", ".join(f"{k} {v / len(writes):.0f}" for k, v in per_batch.items())
    )
    cpu = asyncio.run(write_all(redis_url, writes))
    print(
        f"read-model writer: {cpu / events * 1e6:.1f} CPU µs/event, "
        f"{cpu / len(writes) * 1e3:.2f} CPU ms/batch"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
