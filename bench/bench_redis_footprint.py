#!/usr/bin/env python3
"""Redis bytes per parcel and per violation, as a real worker writes them.

    make bench-redis       (its own stack on the bench ports, like make bench-worker)

One `lastmile worker` processes a simulated Yiyuan day (bench/_sim.py, cached) from Kafka
into the read models of a Redis key prefix of its own. Once every event is processed and
the violation projection has settled, every key of the prefix is sized with
`MEMORY USAGE key SAMPLES 0` (exact: every element counted) and put in one family:

  per violation  {<p>:v}:*  documents, indexes, the SSE/webhook stream, per-parcel sets
                 (kept as long as violations.v1: 400 days)
  parcel path    <p>:parcel:*  each parcel's path for the API's timeline (30 days, EX)
  parcel by day  <p>:parcels:<day>, {<p>:d:<day>}:*, {<p>:c:<day>}:*  first scans,
                 deliveries, end-to-end times, complaints by day (kept as long as the
                 reviews need them)
  bounded        coverage, brands, holds: do not grow with the traffic

and printed as bytes per parcel (each parcel family / distinct parcels) and bytes per
violation (violation family / violations). `INFO memory` used_memory before and after is
printed as a cross-check, and the worker's RSS when ready and when done.
docs/operations.md's sizing uses these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sim import CACHE, machine, simulated
from bench_worker import (
    INPUTS,
    WorkerProc,
    delete_topics,
    distinct_parcels,
    free_port,
    local_endpoints,
    make_topics,
    worker_env,
)


def families(prefix: str) -> dict[str, tuple[str, ...]]:
    """Key prefixes of each family, spelt by readmodel.keys (the only code that may)."""
    from lastmile.readmodel.keys import Keys

    k = Keys(prefix)
    mark = "\x00"

    def head(key: str) -> str:  # the part of a key before its variable part
        return key.split(mark)[0]

    return {
        "per violation": (k.violation_docs.removesuffix("doc"),),
        "parcel path": (head(k.parcel(mark)),),
        "parcel by day": (
            head(k.parcels_seen(mark)),
            head(k.delivery_gate(mark)),
            head(k.complaint_gate(mark)),
        ),
        "bounded": (head(k.reached(mark)), head(k.brands(mark)), head(k.holds(mark))),
    }


def size_keys(redis_url: str, prefix: str) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """(bytes by family, keys by family, keys of no family) for every key of the prefix."""
    import redis

    from lastmile.readmodel.keys import Keys

    r = redis.Redis.from_url(redis_url)
    fams = families(prefix)
    size = dict.fromkeys(fams, 0)
    count = dict.fromkeys(fams, 0)
    other: list[str] = []
    for pattern in Keys(prefix).patterns():
        for raw in r.scan_iter(match=pattern, count=1000):
            key = raw.decode()
            fam = next((f for f, heads in fams.items() if key.startswith(heads)), None)
            if fam is None:
                other.append(key)
                continue
            size[fam] += int(r.memory_usage(key, samples=0) or 0)
            count[fam] += 1
    return size, count, other


def used_memory(redis_url: str) -> int:
    import redis

    return int(redis.Redis.from_url(redis_url).info("memory")["used_memory"])


def violation_docs(redis_url: str, prefix: str) -> int:
    import redis

    from lastmile.readmodel.keys import Keys

    return int(redis.Redis.from_url(redis_url).hlen(Keys(prefix).violation_docs))


def wait_settled(redis_url: str, prefix: str, timeout: float = 120) -> int:
    """Violation documents once their number has not moved for 5 s."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = violation_docs(redis_url, prefix)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= 5:
            return n
        time.sleep(0.5)
    raise TimeoutError(f"violation projection still moving after {timeout} s ({last})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--parcels-per-day", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the run's keys and topics")
    args = ap.parse_args()

    bootstrap, redis_url = local_endpoints()
    run = f"rf{uuid.uuid4().hex[:8]}"
    prefix = f"{run}."
    work = CACHE / "redis-footprint" / run
    work.mkdir(parents=True, exist_ok=True)
    print(f"# machine: {machine()}")
    sim = simulated(args.days, args.parcels_per_day, args.seed)
    print(f"# input: {sim.name}; Kafka {bootstrap}, Redis {redis_url}, key prefix {run}")

    from lastmile.commands.publish import publish

    asyncio.run(make_topics(bootstrap, prefix, args.partitions))
    sent = asyncio.run(
        publish(bootstrap, str(sim / "scans.jsonl"), str(sim / "complaints.jsonl"), None, prefix)
    )
    total = sum(sent.values())
    before = used_memory(redis_url)
    port = free_port()
    env = worker_env(bootstrap, redis_url, run, port, prefix, work / "data", args.partitions)
    worker = WorkerProc(env, port, work / "worker.log", None, "warning")
    try:
        worker.wait_ready()
        rss_ready = worker.rss_mib()
        worker.wait_processed({prefix + t for t in INPUTS}, total, timeout=1800)
        violations = wait_settled(redis_url, run)
        rss_done = worker.rss_mib()
    finally:
        worker.stop()
    after = used_memory(redis_url)
    parcels = distinct_parcels(sim)
    size, count, other = size_keys(redis_url, run)
    print(f"processed {total:,} messages: {parcels:,} parcels, {violations:,} violations")
    for fam in size:
        print(f"  {fam:<14} {count[fam]:>8,} keys {size[fam]:>14,} bytes")
    if other:
        print(f"  (keys of no family: {len(other)}, e.g. {other[:3]})")
    per_violation = size["per violation"] / max(1, violations)
    print(f"Redis bytes per parcel, path (30 days):   {size['parcel path'] / parcels:,.0f}")
    print(f"Redis bytes per parcel, by-day records:   {size['parcel by day'] / parcels:,.0f}")
    print(f"Redis bytes per violation (400 days):     {per_violation:,.0f}")
    print(
        f"events per parcel: {total / parcels:.2f}; "
        f"violations per parcel: {violations / parcels:.4f}"
    )
    print(f"worker RSS: {rss_ready:,.0f} MiB when ready, {rss_done:,.0f} MiB when done")
    print(f"bounded (coverage, brands, holds): {size['bounded']:,} bytes")
    print(
        f"cross-check: used_memory grew {after - before:,} bytes "
        f"(sized keys: {sum(size.values()):,} bytes)"
    )
    if not args.keep:
        drop(redis_url, run)
        asyncio.run(delete_topics(bootstrap, prefix))
    return 0


def drop(redis_url: str, prefix: str) -> None:
    """Delete every key of the run's prefix."""
    import redis

    from lastmile.readmodel.keys import Keys

    r = redis.Redis.from_url(redis_url)
    for pattern in Keys(prefix).patterns():
        batch = list(r.scan_iter(match=pattern, count=1000))
        for i in range(0, len(batch), 1000):
            r.delete(*batch[i : i + 1000])


if __name__ == "__main__":
    sys.exit(main())
