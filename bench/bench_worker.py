"""Benchmark of one ``lastmile worker`` against raw aiokafka consumption, and its latency.

Needs a running local stack; use ports of your own, e.g.

    RUN_DIR=/tmp/lm-bench LASTMILE_KAFKA_PORT=39092 LASTMILE_KAFKA_CONTROLLER_PORT=39093 \\
      LASTMILE_REDIS_PORT=36390 LASTMILE_PROMETHEUS_PORT=39091 bash deploy/local/stack.sh up
    LASTMILE_KAFKA_BOOTSTRAP=127.0.0.1:39092 LASTMILE_REDIS_URL=redis://127.0.0.1:36390/0 \\
      .venv/bin/python bench/bench_worker.py
    RUN_DIR=/tmp/lm-bench ... bash deploy/local/stack.sh clean

(``make bench-worker`` does the three steps.) Every topic, consumer group, Redis key
prefix and data dir of a run is named after a fresh run id, so runs never see each other.

  setup  a simulated county (``--days``, cached under .cache/bench/) is produced with the
         project's ``publish`` (keyed by parcel_id) to <run>.scans.v1 / <run>.complaints.v1;
  (a)    raw: a fresh aiokafka consumer group reads both topics from the beginning to the
         end offsets with ``getmany``: messages/s (first record → last record);
  (b)    worker: one ``lastmile worker`` subprocess (RocksDB store) consumes the filled
         topics from the beginning; its /metrics ``lastmile_events_processed_total`` is
         polled until it reaches the number of messages: events/s (first → last);
  (c)    latency: with the worker caught up, an open-loop producer sends the next simulated
         day's scans at half the rate of (b), with a probe every ``--probe-every`` messages:
         a ``fee_charged`` surcharge on an inbound parcel whose arrival scan was sent (and
         processed) before. A consumer process on <run>.violations.v1 records when each
         probe's violation arrives; latency = arrival − the probe's scheduled send time.

The ratio worker/raw is measured in the same run. All traffic goes to 127.0.0.1.
``--profile FILE`` runs the worker of (b) under cProfile (slower; for hot spots only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sim import CACHE, NETWORK, REPO, machine, simulated

TARGET_EVENTS_PER_S = 20_000
TARGET_VS_RAW = 0.25
TARGET_P99_MS = 250.0
# /metrics renders ~2,000 samples per scrape, tens of ms of the worker's only thread: poll
# it at 1 Hz so watching costs the worker ~1-2 % (the scrape time is printed)
POLL_S = 1.0
CST = timezone(timedelta(hours=8))
INPUTS = ("scans.v1", "complaints.v1")
WORKER_TOPICS = (
    "scans.v1",
    "complaints.v1",
    "scans.v1.dlq",
    "complaints.v1.dlq",
    "violations.v1",
    "lastmile.signoffs-by-courier.v1",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def only_local(bootstrap: str) -> None:
    for hostport in bootstrap.split(","):
        host = hostport.rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost"):
            raise SystemExit(
                f"refusing non-local Kafka {hostport!r}: this bench talks to 127.0.0.1"
            )


# --------------------------------------------------------------------- Kafka helpers


async def make_topics(bootstrap: str, prefix: str, partitions: int) -> None:
    from lastmile.worker.topics import ensure_topics

    await ensure_topics(bootstrap, [prefix + t for t in WORKER_TOPICS], partitions)


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete the run's topics (its inputs and outputs, and the worker's changelogs)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


async def topic_size(bootstrap: str, topics: list[str]) -> int:
    from aiokafka import AIOKafkaConsumer

    from lastmile.io.kafka import topic_partitions

    parts = [tp for t in topics for tp in await topic_partitions(bootstrap, t)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        end = await consumer.end_offsets(parts)
        begin = await consumer.beginning_offsets(parts)
        return sum(end[tp] - begin[tp] for tp in parts)
    finally:
        await consumer.stop()


async def raw_consume(bootstrap: str, topics: list[str], group: str, expected: int) -> tuple:
    """A fresh consumer group reads the topics from the beginning: (messages, seconds)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    n = 0
    first = last = None
    deadline = time.monotonic() + 180
    try:
        while n < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            got = sum(len(recs) for recs in batches.values())
            if got:
                now = time.perf_counter()
                if first is None:
                    first = now
                n += got
                last = now
    finally:
        await consumer.stop()
    if n < expected or first is None or last is None:
        raise RuntimeError(f"raw consumer read {n} of {expected} messages in the time allowed")
    return n, last - first


# --------------------------------------------------------------------- the worker


class WorkerProc:
    def __init__(
        self, env: dict[str, str], port: int, log: Path, profile: str | None, loglevel: str
    ) -> None:
        self.port = port
        cmd = [sys.executable]
        if profile:
            cmd += ["-m", "cProfile", "-o", profile]
        cmd += ["-m", "lastmile.cli", "worker", "--loglevel", loglevel]
        self.log = log
        self._log = open(log, "wb")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO
        )

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return bytes(r.read())

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}; see {self.log}")
            with contextlib.suppress(OSError, ValueError, KeyError):
                if orjson.loads(self.get("/healthz"))["ready"]:
                    return
            time.sleep(0.3)
        raise TimeoutError(f"worker not ready in {timeout} s; see {self.log}")

    scrapes = 0
    scrape_s = 0.0

    def processed(self, topics: set[str]) -> int:
        total = 0.0
        t0 = time.perf_counter()
        page = self.get("/metrics")
        self.scrapes += 1
        self.scrape_s += time.perf_counter() - t0
        for line in page.decode().splitlines():
            if line.startswith("lastmile_events_processed_total{"):
                labels, _, value = line.rpartition(" ")
                topic = labels.split('topic="', 1)[1].split('"', 1)[0]
                if topic in topics:
                    total += float(value)
        return int(total)

    def wait_processed(self, topics: set[str], count: int, timeout: float) -> tuple:
        """Poll /metrics until ``count`` events are processed: (first seen, done) times."""
        deadline = time.monotonic() + timeout
        first = None
        n = 0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}; see {self.log}")
            with contextlib.suppress(OSError):
                n = self.processed(topics)
            now = time.perf_counter()
            if n and first is None:
                first = now
            if n >= count:
                return first, now
            time.sleep(POLL_S)
        raise TimeoutError(f"worker processed {n} of {count} events in {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._log.close()


# --------------------------------------------------------------------- (c) latency


def violation_listener(
    bootstrap: str, topic: str, marker: bytes, want: int, until: float, ready: Any, out: str
) -> None:
    """Child process: record the arrival time of each probe violation (parcel id → time)."""

    async def run() -> None:
        from aiokafka import AIOKafkaConsumer

        from lastmile.io.kafka import topic_partitions

        parts = await topic_partitions(bootstrap, topic, wait_s=10.0)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        seen: dict[str, float] = {}
        try:
            consumer.assign(parts)
            await consumer.seek_to_end(*parts)
            for tp in parts:
                await consumer.position(tp)
            ready.set()
            while len(seen) < want and time.time() < until:
                batches = await consumer.getmany(timeout_ms=100, max_records=5000)
                now = time.time()
                for recs in batches.values():
                    for r in recs:
                        if marker in r.value:
                            seen.setdefault(orjson.loads(r.value)["parcel_id"], now)
        finally:
            await consumer.stop()
            Path(out).write_bytes(orjson.dumps(seen))

    asyncio.run(run())


def probe_scans(run: str, n: int, network: Any, when: datetime) -> list[tuple[str, bytes, dict]]:
    """n inbound probe parcels: (parcel id, arrival scan, fee scan template)."""
    county = next(nid for nid, node in network.nodes.items() if node.tier == "county")
    villages = sorted(network.villages)
    out = []
    at = when.isoformat()
    later = (when + timedelta(minutes=30)).isoformat()
    for i in range(n):
        pid = f"PRB{run}{i:06d}"
        arrived = {
            "event_id": f"{pid}-a",
            "parcel_id": pid,
            "carrier": "EMS",
            "type": "arrived",
            "occurred_at": at,
            "node_id": county,
            "courier_id": "EMS-BENCH-OP",
            "destination": {"village": villages[i % len(villages)]},
        }
        fee = {
            "event_id": f"{pid}-f",
            "parcel_id": pid,
            "carrier": "EMS",
            "type": "fee_charged",
            "occurred_at": later,
            "courier_id": "EMS-BENCH-R1",
            "fee": {"amount": 5, "reason": "delivery_surcharge"},
        }
        out.append((pid, orjson.dumps(arrived), fee))
    return out


async def open_loop(
    bootstrap: str,
    topic: str,
    load: list[tuple[bytes | None, bytes]],
    probes: list[tuple[str, bytes, dict]],
    rate: float,
    every: int,
) -> tuple[dict[str, float], float, int]:
    """Send load + probes at ``rate`` msgs/s on a fixed schedule (open loop).

    Returns the scheduled send time of each probe, the worst lateness of the producer
    behind its schedule, and the number of messages sent.
    """
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=1, enable_idempotence=True
    )
    await producer.start()
    sent_at: dict[str, float] = {}
    total = len(load) + len(probes)
    worst = 0.0
    i = li = pi = 0
    try:
        t0 = time.time() + 0.05
        while i < total:
            now = time.time()
            due = min(total, int((now - t0) * rate) + 1)
            while i < due:
                intended = t0 + i / rate
                if (i % every == every // 2 and pi < len(probes)) or li >= len(load):
                    pid, _, fee = probes[pi]
                    pi += 1
                    sent_at[pid] = intended
                    value = orjson.dumps({**fee, "bench_sent_at": intended})
                    key: bytes | None = pid.encode()
                else:
                    key, value = load[li]
                    li += 1
                await producer.send(topic, value=value, key=key)
                worst = max(worst, time.time() - intended)
                i += 1
            await asyncio.sleep(max(0.0, t0 + i / rate - time.time()))
        await producer.flush()
    finally:
        await producer.stop()
    return sent_at, worst, i


async def send_all(bootstrap: str, topic: str, msgs: list[tuple[bytes | None, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for key, value in msgs:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


# --------------------------------------------------------------------- driver


def verdict(ok: bool) -> str:
    return "MEETS" if ok else "MISSES"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--days", type=int, default=1, help="simulated days to produce (default 1; see docs)"
    )
    ap.add_argument("--parcels-per-day", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--latency-seconds", type=float, default=30.0, help="length of phase (c)")
    ap.add_argument("--latency-rate", type=float, help="msgs/s of phase (c) (default: half of (b))")
    ap.add_argument("--probe-every", type=int, default=20, help="one probe per N messages")
    ap.add_argument("--profile", metavar="FILE", help="run the worker under cProfile")
    ap.add_argument("--worker-loglevel", default="warning")
    ap.add_argument("--keep", action="store_true", help="keep the run's topics and data dir")
    args = ap.parse_args()

    bootstrap = os.environ.get("LASTMILE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    redis_url = os.environ.get("LASTMILE_REDIS_URL", "redis://127.0.0.1:6379/0")
    only_local(bootstrap)
    if not redis_url.startswith(("redis://127.0.0.1", "redis://localhost")):
        raise SystemExit(f"refusing non-local Redis {redis_url!r}")
    run = f"bw{uuid.uuid4().hex[:8]}"
    prefix = f"{run}."
    scans_topic, complaints_topic = prefix + INPUTS[0], prefix + INPUTS[1]
    inputs = {scans_topic, complaints_topic}
    work = CACHE / "worker" / run
    work.mkdir(parents=True, exist_ok=True)

    print(f"# machine: {machine()}")
    print(f"# run {run}: Kafka {bootstrap}, Redis {redis_url}, {args.partitions} partitions")
    print("# the worker is one asyncio process (not pinned); broker, Redis and this script")
    print("# share the same machine")
    sim = simulated(args.days, args.parcels_per_day, args.seed)
    print(f"# input: {sim.name} ({args.days} day(s) of {args.parcels_per_day:,} parcels/day)")

    from lastmile.commands.publish import key_of, publish
    from lastmile.domain.network import load_network

    asyncio.run(make_topics(bootstrap, prefix, args.partitions))
    t0 = time.perf_counter()
    sent = asyncio.run(
        publish(bootstrap, str(sim / "scans.jsonl"), str(sim / "complaints.jsonl"), None, prefix)
    )
    dt = time.perf_counter() - t0
    total = asyncio.run(topic_size(bootstrap, sorted(inputs)))
    print(
        f"setup: produced {sum(sent.values()):,} messages with `lastmile publish` code in "
        f"{dt:.1f} s ({sum(sent.values()) / dt:,.0f} msg/s); topics hold {total:,}"
    )

    print("(a) raw aiokafka getmany, fresh consumer group, beginning → end offsets, best of 3")
    raw_rate = 0.0
    for i in range(3):  # short runs: take the best of three fresh groups
        n_raw, t_raw = asyncio.run(raw_consume(bootstrap, sorted(inputs), f"{run}-raw{i}", total))
        raw_rate = max(raw_rate, n_raw / t_raw)
        print(
            f"  raw run {i + 1}: {n_raw:,} messages in {t_raw:.2f} s: {n_raw / t_raw:>10,.0f} msg/s"
        )

    port = free_port()
    env = dict(os.environ)
    env.update(
        LASTMILE_KAFKA_BOOTSTRAP=bootstrap,
        LASTMILE_REDIS_URL=redis_url,
        LASTMILE_NETWORK=str(NETWORK),
        LASTMILE_WEB_PORT=str(port),
        LASTMILE_WEB_HOST="127.0.0.1",
        LASTMILE_STORE="rocksdb://",
        LASTMILE_DATA_DIR=str(work / "data"),
        LASTMILE_APP_ID=run,
        LASTMILE_TOPIC_PREFIX=prefix,
        LASTMILE_REDIS_PREFIX=run,
        LASTMILE_PARTITIONS=str(args.partitions),
    )
    print("(b) one `lastmile worker` (rocksdb://) from the beginning of the filled topics")
    worker = WorkerProc(env, port, work / "worker.log", args.profile, args.worker_loglevel)
    rc = 0
    try:
        t_start = time.perf_counter()
        worker.wait_ready()
        t_ready = time.perf_counter()
        first, done = worker.wait_processed(inputs, total, timeout=600)
        t_worker = done - first
        worker_rate = total / t_worker
        print(
            f"  worker  {total:,} events in {t_worker:.2f} s (first → last processed; "
            f"start → ready {t_ready - t_start:.1f} s): {worker_rate:>10,.0f} events/s"
        )
        ratio = worker_rate / raw_rate
        per_scrape_ms = worker.scrape_s / max(1, worker.scrapes) * 1000
        print(
            f"  (watched /metrics {worker.scrapes} times, {per_scrape_ms:.0f} ms per scrape "
            f"on average; first/last are known to ±{POLL_S:.0f} s)"
        )
        if args.profile:
            print(f"  (profiled run: figures are cProfile-slowed; profile in {args.profile})")
            return 0

        # (c) latency at half the sustainable rate
        rate = args.latency_rate or worker_rate / 2
        n_msgs = int(rate * args.latency_seconds)
        n_probes = max(1, n_msgs // args.probe_every)
        start = date(2024, 6, 3) + timedelta(days=args.days)  # the day after the input
        next_day = simulated(1, args.parcels_per_day, args.seed + 1, start)
        sim_next = next_day / "scans.jsonl"
        load_lines = [x for x in sim_next.read_bytes().splitlines() if x.strip()]
        load = [(key_of(x), x) for x in load_lines[: max(0, n_msgs - n_probes)]]
        network = load_network(NETWORK)
        probes = probe_scans(run, n_probes, network, datetime.now(CST).replace(microsecond=0))
        base = worker.processed(inputs)
        asyncio.run(send_all(bootstrap, scans_topic, [(p[0].encode(), p[1]) for p in probes]))
        worker.wait_processed(inputs, base + n_probes, timeout=120)
        print(
            f"(c) latency: {len(load):,} scans of {sim_next.parent.name} + {n_probes:,} probes "
            f"(arrival scans sent and processed first) at {rate:,.0f} msg/s "
            f"({'set by --latency-rate' if args.latency_rate else 'half of (b)'}), "
            f"open loop, ~{args.latency_seconds:.0f} s"
        )
        ctx = mp.get_context("spawn")
        ready = ctx.Event()
        arrivals_file = work / "arrivals.json"
        listener = ctx.Process(
            target=violation_listener,
            args=(
                bootstrap,
                prefix + "violations.v1",
                f'"parcel_id":"PRB{run}'.encode(),
                n_probes,
                time.time() + args.latency_seconds + 120,
                ready,
                str(arrivals_file),
            ),
        )
        listener.start()
        if not ready.wait(60):
            raise RuntimeError("violation listener not ready")
        base = worker.processed(inputs)
        sent_at, worst, n_sent = asyncio.run(
            open_loop(bootstrap, scans_topic, load, probes, rate, args.probe_every)
        )
        listener.join(timeout=args.latency_seconds + 180)
        if listener.is_alive():
            listener.terminate()
        arrivals = orjson.loads(arrivals_file.read_bytes())
        lat_ms = [(arrivals[p] - t) * 1000 for p, t in sent_at.items() if p in arrivals]
        kept_up = worker.processed(inputs) - base
        print(
            f"  sent {n_sent:,} messages; producer at most {worst * 1000:.0f} ms behind its "
            f"schedule; worker processed {kept_up:,} of them"
        )
        if not lat_ms:
            raise RuntimeError("no probe violation arrived")
        p50, p99 = quantile(lat_ms, 0.5), quantile(lat_ms, 0.99)
        print(
            f"  probes: {len(lat_ms):,} of {len(sent_at):,} violations received; latency "
            f"(violation received − scan scheduled) p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
            f"max {max(lat_ms):.0f} ms"
        )
        ordered = [
            (arrivals[p] - t) * 1000
            for p, t in sorted(sent_at.items(), key=lambda x: x[1])
            if p in arrivals
        ]
        thirds = [ordered[i * len(ordered) // 3 : (i + 1) * len(ordered) // 3] for i in range(3)]
        print(
            "  p50 by third of the run (a rising latency means the rate is not sustained): "
            + ", ".join(f"{quantile(t, 0.5):.0f} ms" for t in thirds if t)
        )
        missing = len(sent_at) - len(lat_ms)

        print("results:")
        print(
            f"  raw consumer {raw_rate:>10,.0f} msg/s; worker {worker_rate:>10,.0f} events/s   "
            f"target >= {TARGET_EVENTS_PER_S:,}: {verdict(worker_rate >= TARGET_EVENTS_PER_S)}"
        )
        print(
            f"  worker / raw = {ratio:.3f}   target >= {TARGET_VS_RAW}: "
            f"{verdict(ratio >= TARGET_VS_RAW)}"
        )
        print(
            f"  p99 at {rate:,.0f} msg/s = {p99:.0f} ms (p50 {p50:.0f} ms)   target (at half "
            f"load) <= "
            f"{TARGET_P99_MS:.0f} ms: {verdict(p99 <= TARGET_P99_MS and not missing)}"
            + (f"  ({missing} probe violations never arrived)" if missing else "")
        )
        if missing:
            rc = 1
    finally:
        worker.stop()
        if not args.keep:
            with contextlib.suppress(Exception):
                asyncio.run(delete_topics(bootstrap, run))
            shutil.rmtree(work / "data", ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
