"""Benchmark of the streaming worker against what Faust and Kafka allow, and its latency.

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
  (a')   a no-op Faust agent (bench_faust_noop.py: take_events 2000 / 50 ms, the worker's
         batching) drains the same topics with a fresh group: the ceiling Faust sets;
  (a'')  the same no-op work on the worker's own batch intake (ADR 0005), fresh group;
  (b)    worker: one ``lastmile worker`` subprocess (RocksDB store) consumes the filled
         topics from the beginning; its /metrics ``lastmile_events_processed_total`` is
         polled until it reaches the number of messages: events/s (first → last); its RSS
         when ready and when done gives the memory per 100,000 parcels of state;
  (b2)   two workers of a fresh app id (own group, own changelogs) drain the same topics;
  (p)    the pipeline alone on one core (bench_pipeline.py, best of 3) on the same simulated input;
  (c)    latency: with the worker caught up, an open-loop producer sends the next simulated
         day's scans at half the rate of (b), with a probe every ``--probe-every`` messages
         on an inbound parcel whose earlier scans were sent (and processed) before: half of
         them a ``fee_charged`` surcharge (published at once), half a move 40 min after the
         sign-off (movement_after_signoff: held LASTMILE_HOLD_S seconds by design), reported
         apart. A consumer process on <run>.violations.v1 records when each probe's
         violation arrives; latency = arrival − the probe's scheduled send time.

Every ratio is of two figures measured in the same run. All traffic goes to 127.0.0.1.
``--profile FILE`` runs the worker of (b) under cProfile (slower; for hot spots only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sim import CACHE, NETWORK, REPO, machine, simulated
from bench_faust_noop import noop_rate

TARGET_VS_NOOP = 0.7  # one worker / a no-op Faust agent on the same topics
TARGET_TWO_VS_ONE = 1.6  # two workers / one
TARGET_P99_MS = 250.0  # at half of the one-worker rate, findings that are not held
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


def local_endpoints() -> tuple[str, str]:
    """Kafka bootstrap and Redis URL from the environment, refused unless on loopback."""
    bootstrap = os.environ.get("LASTMILE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    redis_url = os.environ.get("LASTMILE_REDIS_URL", "redis://127.0.0.1:6379/0")
    only_local(bootstrap)
    if not redis_url.startswith(("redis://127.0.0.1", "redis://localhost")):
        raise SystemExit(f"refusing non-local Redis {redis_url!r}")
    return bootstrap, redis_url


def worker_env(
    bootstrap: str,
    redis_url: str,
    app: str,
    port: int,
    prefix: str,
    data_dir: Path,
    partitions: int,
) -> dict[str, str]:
    """Environment of a bench worker: its own app id, topic prefix, key prefix, data dir."""
    env = dict(os.environ)
    env.update(
        LASTMILE_KAFKA_BOOTSTRAP=bootstrap,
        LASTMILE_REDIS_URL=redis_url,
        LASTMILE_NETWORK=str(NETWORK),
        LASTMILE_WEB_PORT=str(port),
        LASTMILE_WEB_HOST="127.0.0.1",
        LASTMILE_STORE="rocksdb://",
        LASTMILE_DATA_DIR=str(data_dir),
        LASTMILE_APP_ID=app,
        LASTMILE_TOPIC_PREFIX=prefix,
        LASTMILE_REDIS_PREFIX=app,
        LASTMILE_PARTITIONS=str(partitions),
    )
    return env


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
        return wait_all([self], topics, count, timeout)

    def cpu_s(self) -> float:
        """CPU seconds the worker process has used so far (all threads, user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._log.close()


def batch_figures(page: bytes) -> dict[str, float]:
    """Sums and counts of the worker's batch histograms (lastmile_batch_*) on a /metrics page."""
    out: dict[str, float] = {}
    for line in page.decode().splitlines():
        if line.startswith("lastmile_batch_events_") and not line.startswith(
            "lastmile_batch_events_bucket"
        ):
            name, _, value = line.rpartition(" ")
            out["events_" + name.rsplit("_", 1)[1]] = float(value)
        elif line.startswith("lastmile_event_loop_lag_seconds_sum ") or line.startswith(
            "lastmile_event_loop_lag_seconds_count "
        ):
            name, _, value = line.rpartition(" ")
            out["lag_" + name.rsplit("_", 1)[1]] = float(value)
        elif line.startswith("lastmile_batch_seconds_sum{"):
            name, _, value = line.rpartition(" ")
            out[name.split('step="', 1)[1].split('"', 1)[0] + "_sum"] = float(value)
    return out


def wait_all(workers: list[WorkerProc], topics: set[str], count: int, timeout: float) -> tuple:
    """Poll the workers' /metrics until together they processed ``count`` events:
    (first seen, done) times."""
    deadline = time.monotonic() + timeout
    first = None
    n = 0
    while time.monotonic() < deadline:
        for w in workers:
            if w.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {w.proc.returncode}; see {w.log}")
        with contextlib.suppress(OSError):
            n = sum(w.processed(topics) for w in workers)
        now = time.perf_counter()
        if n and first is None:
            first = now
        if n >= count:
            return first, now
        time.sleep(POLL_S)
    raise TimeoutError(f"{len(workers)} worker(s) processed {n} of {count} events in {timeout} s")


def distinct_parcels(sim: Path) -> int:
    ids = set()
    for raw in (sim / "scans.jsonl").read_bytes().splitlines():
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError):
            ids.add(orjson.loads(raw).get("parcel_id"))
    ids.discard(None)
    return len(ids)


def pipeline_alone(args: argparse.Namespace) -> str:
    out = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("bench_pipeline.py")),
            "--runs",  # best of 3, as the bench run alone: one run on a shared machine is noise
            "3",
            "--days",
            str(args.days),
            "--parcels-per-day",
            str(args.parcels_per_day),
            "--seed",
            str(args.seed),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [x for x in out.stdout.splitlines() if x.startswith("pipeline alone")]
    return lines[0] if lines else f"pipeline bench failed: {out.stdout[-500:]} {out.stderr[-500:]}"


def is_held(pid: str) -> bool:
    return pid[len("PRB") + 10] == "H"  # PRB + run id (bw + 8 hex) + H/F


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
                            v = orjson.loads(r.value)
                            pid = v["parcel_id"]
                            if v["rule"] == (
                                "movement_after_signoff" if is_held(pid) else "fee_charged"
                            ):
                                seen.setdefault(pid, now)
        finally:
            await consumer.stop()
            Path(out).write_bytes(orjson.dumps(seen))

    asyncio.run(run())


def probe_scans(
    run: str, n: int, network: Any, when: datetime
) -> list[tuple[str, list[bytes], dict]]:
    """n inbound probe parcels: (parcel id, scans sent before, probe scan template).

    Even probes are a ``fee_charged`` surcharge (extra_fee/fee_charged: published at once);
    odd probes move on 40 min after their sign-off at the village point
    (false_signoff/movement_after_signoff: a held rule, published after LASTMILE_HOLD_S).
    """
    county = next(nid for nid, node in network.nodes.items() if node.tier == "county")
    villages = sorted(network.villages)
    out = []

    def at(minutes: float) -> str:
        return (when + timedelta(minutes=minutes)).isoformat()

    for i in range(n):
        held = i % 2 == 1
        pid = f"PRB{run}{'H' if held else 'F'}{i:06d}"
        village = network.villages[villages[i % len(villages)]]
        point = village.points[0]
        base = {"parcel_id": pid, "carrier": "EMS"}
        before = [
            {
                **base,
                "event_id": f"{pid}-a",
                "type": "arrived",
                "occurred_at": at(0),
                "node_id": county,
                "courier_id": "EMS-BENCH-OP",
                "destination": {"village": village.code},
            }
        ]
        if held:
            before.append(
                {
                    **base,
                    "event_id": f"{pid}-d",
                    "type": "delivered",
                    "occurred_at": at(10),
                    "node_id": point,
                    "courier_id": f"EMS-BENCH-R{i}",  # one courier each: no bulk sign-off
                    "signoff": {"method": "recipient"},
                }
            )
            probe = {
                **base,
                "event_id": f"{pid}-m",
                "type": "departed",
                "occurred_at": at(50),
                "node_id": point,
                "courier_id": f"EMS-BENCH-R{i}",
            }
        else:
            probe = {
                **base,
                "event_id": f"{pid}-f",
                "type": "fee_charged",
                "occurred_at": at(30),
                "courier_id": "EMS-BENCH-R1",
                "fee": {"amount": 5, "reason": "delivery_surcharge"},
            }
        out.append((pid, [orjson.dumps(x) for x in before], probe))
    return out


async def open_loop(
    bootstrap: str,
    topic: str,
    load: list[tuple[bytes | None, bytes]],
    probes: list[tuple[str, list[bytes], dict]],
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
                    pid, _, probe = probes[pi]
                    pi += 1
                    sent_at[pid] = intended
                    value = orjson.dumps({**probe, "bench_sent_at": intended})
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
    ap.add_argument(
        "--latency-trace",
        metavar="FILE",
        help="write phase (c)'s not-held probes as JSON [scheduled send time (Unix s), latency ms]",
    )
    ap.add_argument("--worker-loglevel", default="warning")
    ap.add_argument("--keep", action="store_true", help="keep the run's topics and data dir")
    ap.add_argument(
        "--skip",
        default="",
        help="phases to leave out, comma-separated, of: raw, noop, two, pipeline (for quick "
        "looks at (b) and (c); a run that skips any prints no verdict on the ratios it lacks)",
    )
    args = ap.parse_args()
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    unknown = skip - {"raw", "noop", "two", "pipeline"}
    if unknown:
        ap.error(f"--skip: unknown phase(s) {', '.join(sorted(unknown))}")
    if args.probe_every < 2:
        ap.error("--probe-every: at least 2 (a probe between load messages)")

    bootstrap, redis_url = local_endpoints()
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
    for i in range(0 if "raw" in skip else 3):  # short runs: the best of three fresh groups
        n_raw, t_raw = asyncio.run(raw_consume(bootstrap, sorted(inputs), f"{run}-raw{i}", total))
        raw_rate = max(raw_rate, n_raw / t_raw)
        print(
            f"  raw run {i + 1}: {n_raw:,} messages in {t_raw:.2f} s: {n_raw / t_raw:>10,.0f} msg/s"
        )

    noop = lean = math.nan
    if "noop" not in skip:
        print("(a') a no-op Faust agent (take_events 2000 / 50 ms), fresh group, same topics")
        n_noop, t_noop, b_noop, c_noop = noop_rate(bootstrap, sorted(inputs), total)
        noop = n_noop / t_noop
        print(
            f"  faust no-op {n_noop:,} events in {t_noop:.2f} s: {noop:>10,.0f} events/s "
            f"({n_noop / b_noop:.0f} events per batch; {c_noop / n_noop * 1e6:.0f} CPU µs/event)"
        )
        print("(a'') the same no-op work on the worker's batch intake (ADR 0005), fresh group")
        n_lean, t_lean, b_lean, c_lean = noop_rate(bootstrap, sorted(inputs), total, intake="batch")
        lean = n_lean / t_lean
        print(
            f"  batch-intake no-op {n_lean:,} events in {t_lean:.2f} s: {lean:>10,.0f} "
            f"events/s = {lean / noop:.2f} x the agent ({n_lean / b_lean:.0f} events per "
            f"batch; {c_lean / n_lean * 1e6:.0f} CPU µs/event)"
        )

    def env_for(app: str, port: int) -> dict[str, str]:
        return worker_env(
            bootstrap, redis_url, app, port, prefix, work / f"data-{app}-{port}", args.partitions
        )

    port = free_port()
    print("(b) one `lastmile worker` (rocksdb://) from the beginning of the filled topics")
    worker = WorkerProc(
        env_for(run, port), port, work / "worker.log", args.profile, args.worker_loglevel
    )
    rc = 0
    pair: list[WorkerProc] = []
    try:
        t_start = time.perf_counter()
        worker.wait_ready()
        t_ready = time.perf_counter()
        rss_ready, cpu_ready = worker.rss_mib(), worker.cpu_s()
        first, done = worker.wait_processed(inputs, total, timeout=600)
        t_worker = done - first
        worker_rate = total / t_worker
        rss_done, cpu_done = worker.rss_mib(), worker.cpu_s()
        print(
            f"  worker  {total:,} events in {t_worker:.2f} s (first → last processed; "
            f"start → ready {t_ready - t_start:.1f} s): {worker_rate:>10,.0f} events/s "
            f"({(cpu_done - cpu_ready) / total * 1e6:.0f} CPU µs/event, idle polling included)"
        )
        parcels = distinct_parcels(sim)
        per_100k = (rss_done - rss_ready) / parcels * 100_000
        print(
            f"  RSS {rss_ready:.0f} MiB when ready, {rss_done:.0f} MiB after {parcels:,} parcels "
            f"of state: {per_100k:.0f} MiB per 100,000 parcels"
        )
        ratio = worker_rate / noop
        per_scrape_ms = worker.scrape_s / max(1, worker.scrapes) * 1000
        print(
            f"  (watched /metrics {worker.scrapes} times, {per_scrape_ms:.0f} ms per scrape "
            f"on average; first/last are known to ±{POLL_S:.0f} s)"
        )
        if args.profile:
            print(f"  (profiled run: figures are cProfile-slowed; profile in {args.profile})")
            return 0

        two_rate = math.nan
        if "two" not in skip:
            print("(b2) two workers (a fresh app id: own group and changelogs), same topics")
            ports2 = [free_port(), free_port()]
            pair = [
                WorkerProc(
                    env_for(f"{run}x2", p2),
                    p2,
                    work / f"worker2-{i}.log",
                    None,
                    args.worker_loglevel,
                )
                for i, p2 in enumerate(ports2)
            ]
            for w2 in pair:
                w2.wait_ready()
            first2, done2 = wait_all(pair, inputs, total, timeout=600)
            two_rate = total / (done2 - first2)
            print(
                f"  two workers {total:,} events in {done2 - first2:.2f} s: {two_rate:>10,.0f} "
                f"events/s = {two_rate / worker_rate:.2f} x one worker"
            )
            for w2 in pair:
                w2.stop()
            pair = []

        pipe_line = "pipeline alone: skipped"
        if "pipeline" not in skip:
            print("(p) the pipeline alone on one core (bench/bench_pipeline.py, same input)")
            pipe_line = pipeline_alone(args)
            print(f"  {pipe_line}")

        # (c) latency at half the sustainable rate
        rate = args.latency_rate or worker_rate / 2
        n_msgs = int(rate * args.latency_seconds)
        start = date(2024, 6, 3) + timedelta(days=args.days)  # the day after the input
        next_day = simulated(1, args.parcels_per_day, args.seed + 1, start)
        sim_next = next_day / "scans.jsonl"
        load_lines = [x for x in sim_next.read_bytes().splitlines() if x.strip()]
        # one probe every ``probe_every`` messages, all of them between load messages: when
        # the simulated day is shorter than the run, fewer probes (a tail of probes alone,
        # each a violation, would measure a burst of findings rather than the load)
        n_load = min(len(load_lines), n_msgs - n_msgs // args.probe_every)
        n_probes = max(1, n_load // (args.probe_every - 1))
        load = [(key_of(x), x) for x in load_lines[:n_load]]
        network = load_network(NETWORK)
        # Probes live in the load's own day of event time: dated "now" (as before), they
        # moved the watermark two years on, and every parcel of the load expired at once.
        probes = probe_scans(
            run, n_probes, network, datetime(start.year, start.month, start.day, 6, tzinfo=CST)
        )
        base = worker.processed(inputs)
        pre = [(p[0].encode(), x) for p in probes for x in p[1]]
        asyncio.run(send_all(bootstrap, scans_topic, pre))
        worker.wait_processed(inputs, base + len(pre), timeout=120)
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
        batches_before = batch_figures(worker.get("/metrics"))
        cpu_c, wall_c = worker.cpu_s(), time.monotonic()
        samples: list[tuple[float, float, int]] = []  # (wall, worker CPU s, processed)
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(2.0):
                with contextlib.suppress(OSError):
                    samples.append((time.monotonic(), worker.cpu_s(), worker.processed(inputs)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        sent_at, worst, n_sent = asyncio.run(
            open_loop(bootstrap, scans_topic, load, probes, rate, args.probe_every)
        )
        sampling.set()
        sampler.join()
        cpu_c, wall_c = worker.cpu_s() - cpu_c, time.monotonic() - wall_c
        listener.join(timeout=args.latency_seconds + 180)
        if listener.is_alive():
            listener.terminate()
        arrivals = orjson.loads(arrivals_file.read_bytes())
        held_ms = [
            (arrivals[p] - t) * 1000 for p, t in sent_at.items() if p in arrivals and is_held(p)
        ]
        sent_at = {p: t for p, t in sent_at.items() if not is_held(p)}
        lat_ms = [(arrivals[p] - t) * 1000 for p, t in sent_at.items() if p in arrivals]
        kept_up = worker.processed(inputs) - base
        print(
            f"  sent {n_sent:,} messages; producer at most {worst * 1000:.0f} ms behind its "
            f"schedule; worker processed {kept_up:,} of them"
        )
        print(
            f"  worker CPU while sending: {cpu_c / max(1, kept_up) * 1e6:.0f} µs/event processed, "
            f"{cpu_c / wall_c:.0%} of one core (load average {os.getloadavg()[0]:.2f}: "
            "latency needs the worker to have the core it asks for)"
        )
        after = batch_figures(worker.get("/metrics"))
        d = {k: after.get(k, 0.0) - batches_before.get(k, 0.0) for k in after}
        if d.get("events_count"):
            n_b = d["events_count"]
            print(
                f"  worker batches while sending: {n_b:,.0f}, "
                f"{d['events_sum'] / n_b:,.0f} messages each; "
                f"begin {d.get('begin_sum', 0) / n_b * 1e3:.1f} ms, "
                f"finish {d.get('finish_sum', 0) / n_b * 1e3:.1f} ms (of which waiting for the "
                f"broker's and Redis's acks {d.get('acks_sum', 0) / n_b * 1e3:.1f} ms, storing "
                f"the paths {d.get('store_sum', 0) / n_b * 1e3:.1f} ms) on average; the event "
                f"loop ran due tasks "
                f"{d.get('lag_sum', 0) / max(1, d.get('lag_count', 0)) * 1e3:.1f} ms late "
                "on average"
            )
        if len(samples) >= 4:
            cut = [samples[i * (len(samples) - 1) // 3] for i in range(4)]
            print(
                "  worker by third of the sending: "
                + "; ".join(
                    f"{(b[2] - a[2]) / (b[0] - a[0]):,.0f} events/s, "
                    f"{(b[1] - a[1]) / max(1, b[2] - a[2]) * 1e6:.0f} CPU µs/event, "
                    f"{(b[1] - a[1]) / (b[0] - a[0]):.0%} of a core"
                    for a, b in itertools.pairwise(cut)
                )
            )
        if not lat_ms:
            raise RuntimeError("no probe violation arrived")
        p50, p99 = quantile(lat_ms, 0.5), quantile(lat_ms, 0.99)
        print(
            f"  probes not held: {len(lat_ms):,} of {len(sent_at):,} violations received; "
            f"latency (violation received − scan scheduled) p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
            f"max {max(lat_ms):.0f} ms"
        )
        if held_ms:
            print(
                f"  probes held (movement after sign-off, LASTMILE_HOLD_S "
                f"{os.environ.get('LASTMILE_HOLD_S', '5')} s by design): {len(held_ms):,} "
                f"received; p50 {quantile(held_ms, 0.5):.0f} ms, "
                f"p99 {quantile(held_ms, 0.99):.0f} ms"
            )
        ordered = [
            (arrivals[p] - t) * 1000
            for p, t in sorted(sent_at.items(), key=lambda x: x[1])
            if p in arrivals
        ]
        thirds = [ordered[i * len(ordered) // 3 : (i + 1) * len(ordered) // 3] for i in range(3)]
        if args.latency_trace and sent_at:
            trace = sorted(
                (t, (arrivals[p] - t) * 1000) for p, t in sent_at.items() if p in arrivals
            )
            Path(args.latency_trace).write_bytes(orjson.dumps(trace))
        print(
            "  p50 by third of the run (a rising latency means the rate is not sustained): "
            + ", ".join(f"{quantile(t, 0.5):.0f} ms" for t in thirds if t)
        )
        missing = len(sent_at) - len(lat_ms)

        print("results:")
        print(
            f"  raw getmany {raw_rate:>10,.0f} msg/s; faust no-op {noop:>10,.0f} events/s; "
            f"worker {worker_rate:>10,.0f} events/s; two workers {two_rate:>10,.0f} events/s"
        )
        print(
            f"  worker / faust no-op = {ratio:.2f}   target >= {TARGET_VS_NOOP}: "
            f"{verdict(ratio >= TARGET_VS_NOOP) if not math.isnan(ratio) else 'not measured'}"
        )
        print(
            f"  worker / batch-intake no-op = {worker_rate / lean:.2f} (the share of the "
            "worker's own intake's ceiling it reaches; no target)"
        )
        two = two_rate / worker_rate
        print(
            f"  two workers / one = {two:.2f}   target >= {TARGET_TWO_VS_ONE}: "
            f"{verdict(two >= TARGET_TWO_VS_ONE) if not math.isnan(two) else 'not measured'}"
        )
        print(f"  {pipe_line}")
        print(f"  RSS per 100,000 parcels of state: {per_100k:.0f} MiB")
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
        for w2 in pair:
            w2.stop()
        if not args.keep:
            with contextlib.suppress(Exception):
                asyncio.run(delete_topics(bootstrap, run))
            for d in work.glob("data-*"):
                shutil.rmtree(d, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
