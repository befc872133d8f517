"""The ceiling Faust itself sets here: a no-op agent (take_events, like the worker's).

    LASTMILE_KAFKA_BOOTSTRAP=127.0.0.1:9092 .venv/bin/python bench/bench_faust_noop.py

Produces ``--messages`` scan lines of the cached simulated county (bench/_sim.py) to a fresh
topic with aiokafka, then runs a Faust app whose agent only counts events in batches
exactly as ``lastmile worker`` receives them, and prints events/s from first to last
batch. Compare with bench_worker.py's worker figure: the gap is our own processing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

CHILD = r"""
import os, sys, time, faust
topic, n, bootstrap = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import tempfile
app = faust.App("noop-" + os.urandom(5).hex(), broker="kafka://" + bootstrap, store="memory://",
                datadir=tempfile.mkdtemp(prefix="lastmile-noop-"),
                web_enabled=False, consumer_auto_offset_reset="earliest",
                key_serializer="raw", value_serializer="raw")
t = app.topic(*topic.split(","), key_type=bytes, value_type=bytes,
              key_serializer="raw", value_serializer="raw")
state = {"n": 0, "t0": None, "batches": 0}

@app.agent(t)
async def noop(stream):
    async for batch in stream.take_events(2000, within=0.05):
        if state["t0"] is None:
            state["t0"] = time.monotonic()
            state["cpu0"] = time.process_time()
        state["n"] += len(batch)
        state["batches"] += 1
        if state["n"] >= n:
            dt = time.monotonic() - state["t0"]
            cpu = time.process_time() - state["cpu0"]
            print(f"RESULT {state['n']} {dt:.3f} {state['batches']} {cpu:.3f}", flush=True)
            os._exit(0)
        yield len(batch)

sys.argv = [sys.argv[0], "worker", "-l", "warn"]
app.main()
"""

# The same no-op work on the worker's own intake (ADR 0005): LastmileApp's direct-delivery
# consumer and a BatchTopic read by an app task, batches acked after the (empty) work.
CHILD_BATCH = r"""
import os, sys, time, tempfile
from lastmile.worker.fetch import LastmileApp
from lastmile.worker.intake import ack, batch_topic, batches
topic, n, bootstrap = sys.argv[1], int(sys.argv[2]), sys.argv[3]
app = LastmileApp("noop-" + os.urandom(5).hex(), broker="kafka://" + bootstrap,
                  store="memory://", datadir=tempfile.mkdtemp(prefix="lastmile-noop-"),
                  web_enabled=False, consumer_auto_offset_reset="earliest",
                  key_serializer="raw", value_serializer="raw")
t = batch_topic(app, *topic.split(","), partitions=4, maxsize=16384)
state = {"n": 0, "t0": None, "batches": 0}

@app.task
async def noop():
    async for batch in batches(app, t, 2000, 0.05):
        if state["t0"] is None:
            state["t0"] = time.monotonic()
            state["cpu0"] = time.process_time()
        state["n"] += len(batch)
        state["batches"] += 1
        ack(app, batch)
        if state["n"] >= n:
            dt = time.monotonic() - state["t0"]
            cpu = time.process_time() - state["cpu0"]
            print(f"RESULT {state['n']} {dt:.3f} {state['batches']} {cpu:.3f}", flush=True)
            os._exit(0)

sys.argv = [sys.argv[0], "worker", "-l", "warn"]
app.main()
"""


async def produce(bootstrap: str, topic: str, lines: list[bytes], partitions: int) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for i, raw in enumerate(lines):
            await producer.send(topic, raw, key=str(i % 997).encode())
        await producer.flush()
    finally:
        await producer.stop()


def noop_rate(
    bootstrap: str, topics: list[str], n: int, timeout: float = 600, intake: str = "agent"
) -> tuple:
    """A no-op Faust agent (``intake="agent"``) or the same no-op work on the worker's batch
    intake (``"batch"``) drains ``topics`` (n messages) with a fresh group:
    (events, seconds from first to last batch, batches, CPU seconds of the process in that
    time, all threads); raises if it never finished."""
    child = CHILD if intake == "agent" else CHILD_BATCH
    proc = subprocess.run(
        [sys.executable, "-c", child, ",".join(topics), str(n), bootstrap],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    # Faust routes the child's stdout through its logger: find the line wherever it went
    output = proc.stdout + proc.stderr
    found = [x[x.index("RESULT") :].split() for x in output.splitlines() if "RESULT" in x]
    if not found:
        raise RuntimeError("the no-op Faust agent did not finish:\n" + output[-2000:])
    _, got, dt, batches, cpu = found[0][:5]
    return int(got), float(dt), int(batches), float(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--partitions", type=int, default=4)
    args = ap.parse_args()
    bootstrap = os.environ.get("LASTMILE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    sys.path.insert(0, str(Path(__file__).parent))
    from _sim import simulated  # the benchmarks' shared simulation cache

    sim_dir = simulated(days=1, parcels_per_day=20_000, seed=1)
    lines = (sim_dir / "scans.jsonl").read_bytes().splitlines()[: args.messages]
    topic = f"noop-{uuid.uuid4().hex[:8]}"
    asyncio.run(produce(bootstrap, topic, lines, args.partitions))
    for intake, label in (("agent", "agent, take_events"), ("batch", "batch intake")):
        n, dt, batches, cpu = noop_rate(bootstrap, [topic], len(lines), intake=intake)
        print(
            f"faust no-op ({label}, 2000 / 50 ms): {n:,} events in {dt:.2f} s "
            f"= {n / dt:,.0f} events/s, {n / batches:.0f} events per batch, "
            f"{cpu / n * 1e6:.0f} CPU µs per event"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
