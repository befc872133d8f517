"""What the fault scenarios share: a stack of their own, a supervisor, and the figures.

A scenario streams a simulated county through an outside producer while a fault happens,
then compares what ``lastmile detect`` found on the same files with the violations on
``violations.v1``, the Redis read model and ``lastmile_violations_total``. The figures are
printed (``pytest -s``) and appended to ``$LASTMILE_TEST_FIGURES`` when it is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
import redis
from workers import REPO, Scenario, free_port, metric

from lastmile.readmodel.keys import Keys

STACK = REPO / "deploy" / "local" / "stack.sh"


class OwnStack:
    """deploy/local/stack.sh on ports and a run dir of the test's own.

    Ports are free ones, or four from ``LASTMILE_TEST_STACK_PORT_BASE`` when it is set
    (a shared machine where each engineer has a range).
    """

    def __init__(self, run_dir: Path) -> None:
        base = os.environ.get("LASTMILE_TEST_STACK_PORT_BASE")
        ports = [int(base) + i for i in range(4)] if base else [free_port() for _ in range(4)]
        self.env = {
            **os.environ,
            "RUN_DIR": str(run_dir),
            "LASTMILE_KAFKA_PORT": str(ports[0]),
            "LASTMILE_KAFKA_CONTROLLER_PORT": str(ports[1]),
            "LASTMILE_REDIS_PORT": str(ports[2]),
            "LASTMILE_PROMETHEUS_PORT": str(ports[3]),
        }
        self.run_dir = run_dir

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.env['LASTMILE_KAFKA_PORT']}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.env['LASTMILE_REDIS_PORT']}/0"

    def stack(self, command: str) -> None:
        done = subprocess.run(["bash", str(STACK), command], env=self.env, capture_output=True)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
            raise RuntimeError(f"stack.sh {command} failed ({done.returncode}):\n{tail}")

    def pid(self, service: str) -> int:
        return int((self.run_dir / "pids" / f"{service}.pid").read_text())

    def stop(self, service: str, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        """Stop one service (SIGTERM: a clean stop; SIGKILL: a crash) and wait until it is gone."""
        pid = self.pid(service)
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        raise TimeoutError(f"{service} (pid {pid}) still running {timeout}s after signal {sig}")

    def kill_broker(self) -> None:
        self.stop("kafka", signal.SIGKILL)

    def stop_redis(self) -> None:
        self.stop("redis")  # a clean stop: the AOF is complete


class Supervisor(threading.Thread):
    """Restarts the worker whenever it has exited (as systemd or Kubernetes would)."""

    def __init__(self, scenario: Scenario, port: int, **extra_env: str) -> None:
        super().__init__(daemon=True)
        self.scenario, self.port, self.extra_env = scenario, port, extra_env
        self.proc, _ = scenario.start_worker(port, **extra_env)
        self.restarts = 0
        self.exit_codes: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            if self.proc.poll() is not None:
                self.exit_codes.append(self.proc.returncode)
                self.restarts += 1
                try:
                    self.proc, _ = self.scenario.start_worker(self.port, **self.extra_env)
                except (RuntimeError, TimeoutError):
                    continue  # the broker may still be coming back: try again

    def stop(self) -> None:
        """Stop supervising, then every worker: also one started while we were stopping."""
        self.stopping.set()
        self.join(timeout=150)  # a start in progress waits up to 90 s for readiness
        self.scenario.stop_all()


def thirds(src: Path, out: Path) -> list[Path]:
    lines = src.read_bytes().splitlines(keepends=True)
    n = len(lines)
    parts = []
    for i, (a, b) in enumerate(((0, n // 3), (n // 3, 2 * n // 3), (2 * n // 3, n))):
        p = out / f"part{i + 1}.jsonl"
        p.write_bytes(b"".join(lines[a:b]))
        parts.append(p)
    return parts


class Expected(set[str]):
    """The violation ids ``lastmile detect`` found on the same files, with each one's rule."""

    rules: dict[str, str]


def expected_ids(traffic: Path) -> Expected:
    found = [orjson.loads(x) for x in (traffic / "detected.jsonl").read_bytes().splitlines()]
    out = Expected(v["violation_id"] for v in found)
    out.rules = {v["violation_id"]: f"{v['type']}/{v['rule']}" for v in found}
    return out


@dataclass
class Figures:
    """One scenario's outcome, against ``lastmile detect`` on the same files."""

    scenario: str
    expected: int
    published: int = 0  # records on violations.v1
    missing: int = 0
    repeated: int = 0
    unexpected: int = 0
    read_model: int | None = None  # violations in the Redis read model (None: not measured)
    counter: float | None = None  # lastmile_violations_total summed over the live workers
    recover_s: float = 0.0  # fault over → log, read model and counter all equal the truth
    reported_s: float | None = None  # fault → /healthz names it
    exited_s: float | None = None  # fault → the stalled worker has exited
    taken_over_s: float | None = None  # cut → the input all committed by the other worker
    restarts: int = 0
    exit_codes: str = ""
    missing_rules: dict[str, int] = field(default_factory=dict)  # type/rule → violations

    @property
    def exact(self) -> bool:
        return (
            self.missing == self.repeated == self.unexpected == 0
            and self.published == self.read_model == self.counter == self.expected
        )

    def report(self) -> str:
        line = json.dumps(asdict(self))
        print(f"\nFAULT FIGURES {line}")
        if path := os.environ.get("LASTMILE_TEST_FIGURES"):
            with open(path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        return line


MetricsSource = Callable[[], str]  # one live worker's /metrics text


def measure(
    name: str,
    scenario: Scenario,
    redis_url: str,
    expected: set[str],
    workers: list[MetricsSource],
) -> Figures:
    """The figures as they stand now."""
    got = [orjson.loads(r.value)["violation_id"] for r in scenario.records("violations.v1")]
    client = redis.Redis.from_url(redis_url)
    try:
        read_model = int(client.zcard(Keys(scenario.name).violations_all))
    finally:
        client.close()
    counter = 0.0
    for source in workers:
        with contextlib.suppress(OSError):  # a worker being restarted: counted when back
            counter += metric(source(), "lastmile_violations_total")
    missing = expected - set(got)
    rules = getattr(expected, "rules", {})
    return Figures(
        scenario=name,
        expected=len(expected),
        published=len(got),
        missing=len(missing),
        missing_rules=dict(Counter(rules.get(v, "?") for v in missing)),
        repeated=len(got) - len(set(got)),
        unexpected=len(set(got) - expected),
        read_model=read_model,
        counter=counter,
    )


def settle(
    name: str,
    scenario: Scenario,
    redis_url: str,
    expected: set[str],
    workers: list[MetricsSource],
    since: float,
    timeout: float = 180,
) -> Figures:
    """Wait until the log, the read model and the counter equal the truth (or time out);
    then look once more after a few seconds, to catch a late repeat."""
    deadline = time.monotonic() + timeout
    fig = measure(name, scenario, redis_url, expected, workers)
    while not fig.exact and time.monotonic() < deadline:
        time.sleep(1.0)
        fig = measure(name, scenario, redis_url, expected, workers)
    recovered_at = time.monotonic()
    time.sleep(5)
    fig = measure(name, scenario, redis_url, expected, workers)
    fig.recover_s = round(recovered_at - since, 1)
    return fig


class CutOffNamespace:
    """A network namespace joined to the host by a veth pair, whose link the test can cut.

    Addresses are the test's own: a /30 in 10.213.0.0/16 (host side .1, namespace side .2).
    ``cut`` takes the host side down: packets to and from the namespace vanish (TCP calls hang,
    as on a real partition), while the namespace still reaches its own address.
    """

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        third = int(tag[:2], 16)
        self.name, self.host_if, self.ns_if = f"lmf{tag}", f"lmh{tag}", f"lmn{tag}"
        self.host_ip, self.ns_ip = f"10.213.{third}.1", f"10.213.{third}.2"
        self.wrap = ("ip", "netns", "exec", self.name)

    def _ip(self, *args: str, inside: bool = False) -> None:
        cmd = [*self.wrap, "ip", *args] if inside else ["ip", *args]
        subprocess.run(cmd, check=True, capture_output=True)

    def create(self) -> None:
        self._ip("netns", "add", self.name)
        self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        self._ip("link", "set", self.ns_if, "netns", self.name)
        self._ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        self._ip("link", "set", self.host_if, "up")
        self._ip("addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if, inside=True)
        self._ip("link", "set", self.ns_if, "up", inside=True)
        self._ip("link", "set", "lo", "up", inside=True)

    def cut(self) -> None:
        self._ip("link", "set", self.host_if, "down")

    def mend(self) -> None:
        self._ip("link", "set", self.host_if, "up")

    def get(self, url: str) -> tuple[int, bytes]:
        """GET from inside the namespace (reachable while the link is cut)."""
        out = subprocess.run(
            [*self.wrap, "curl", "-s", "-m", "5", "-w", "\n%{http_code}", url],
            capture_output=True,
            check=False,
        ).stdout
        body, _, code = out.rpartition(b"\n")
        return int(code or 0), body

    def delete(self) -> None:
        for cmd in (["ip", "netns", "del", self.name], ["ip", "link", "del", self.host_if]):
            subprocess.run(cmd, capture_output=True, check=False)


async def _group_behind(kafka: str, group: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    from lastmile.io.kafka import topic_partitions

    parts = await topic_partitions(kafka, topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=parts)
        end = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
        await admin.close()
    done = {tp: max(meta.offset, 0) for tp, meta in committed.items() if meta is not None}
    return sum(end[tp] - done.get(tp, 0) for tp in parts)


def group_behind(kafka: str, group: str, topic: str) -> int:
    """Records of ``topic`` that consumer group ``group`` has not committed yet."""
    return asyncio.run(_group_behind(kafka, group, topic))
