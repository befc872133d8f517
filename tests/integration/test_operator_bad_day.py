"""Issue 15's bad day, on a stack of the test's own: broker killed, then Redis away.

One worker streams an unseen county from an outside producer in three parts. Between
parts 1 and 2 the broker is killed with SIGKILL and started again; between parts 2 and 3
Redis is stopped and started again some seconds later. A supervisor restarts the worker
whenever it exits. Every violation of the truth must be on ``violations.v1`` exactly once,
``lastmile_violations_total`` must equal the truth, and the worker must still be the same
process after the Redis outage.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import orjson
import pytest
from workers import REPO, Scenario, free_port, simulated_traffic

STACK = REPO / "deploy" / "local" / "stack.sh"
REDIS_OUTAGE_S = float(os.environ.get("LASTMILE_TEST_REDIS_OUTAGE_S", "20"))


class OwnStack:
    """deploy/local/stack.sh on ports and a run dir of the test's own."""

    def __init__(self, run_dir: Path) -> None:
        self.env = {
            **os.environ,
            "RUN_DIR": str(run_dir),
            "LASTMILE_KAFKA_PORT": str(free_port()),
            "LASTMILE_KAFKA_CONTROLLER_PORT": str(free_port()),
            "LASTMILE_REDIS_PORT": str(free_port()),
            "LASTMILE_PROMETHEUS_PORT": str(free_port()),
        }
        self.run_dir = run_dir

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.env['LASTMILE_KAFKA_PORT']}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.env['LASTMILE_REDIS_PORT']}/0"

    def stack(self, command: str) -> None:
        subprocess.run(["bash", str(STACK), command], env=self.env, check=True, capture_output=True)

    def pid(self, service: str) -> int:
        return int((self.run_dir / "pids" / f"{service}.pid").read_text())

    def kill_broker(self) -> None:
        os.kill(self.pid("kafka"), signal.SIGKILL)
        time.sleep(1)

    def stop_redis(self) -> None:
        os.kill(self.pid("redis"), signal.SIGTERM)  # a clean stop: the AOF is complete
        time.sleep(1)


class Supervisor(threading.Thread):
    """Restarts the worker whenever it has exited (as systemd or Kubernetes would)."""

    def __init__(self, scenario: Scenario, port: int) -> None:
        super().__init__(daemon=True)
        self.scenario, self.port = scenario, port
        self.proc, _ = scenario.start_worker(port)
        self.restarts = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            if self.proc.poll() is not None:
                self.restarts += 1
                try:
                    self.proc, _ = self.scenario.start_worker(self.port)
                except (RuntimeError, TimeoutError):
                    continue  # the broker may still be coming back: try again


def thirds(src: Path, out: Path) -> list[Path]:
    lines = src.read_bytes().splitlines(keepends=True)
    n = len(lines)
    parts = []
    for i, (a, b) in enumerate(((0, n // 3), (n // 3, 2 * n // 3), (2 * n // 3, n))):
        p = out / f"part{i + 1}.jsonl"
        p.write_bytes(b"".join(lines[a:b]))
        parts.append(p)
    return parts


@pytest.fixture
def own_stack(tmp_path):
    stack = OwnStack(tmp_path / "stack")
    stack.stack("up")
    yield stack
    stack.stack("clean")


def test_a_broker_crash_then_a_redis_outage_lose_and_repeat_nothing(own_stack, tmp_path):
    traffic = simulated_traffic(tmp_path / "traffic", seed=31, parcels=900)
    expected = {
        orjson.loads(x)["violation_id"]
        for x in (traffic / "detected.jsonl").read_bytes().splitlines()
    }
    scenario = Scenario(own_stack.kafka, own_stack.redis_url, tmp_path, store="rocksdb://")
    part1, part2, part3 = thirds(traffic / "scans.jsonl", tmp_path)
    supervisor = Supervisor(scenario, free_port())
    supervisor.start()
    try:
        scenario.publish(part1)
        time.sleep(3)
        own_stack.kill_broker()
        own_stack.stack("up")  # the broker comes back; the worker rides it out or restarts
        scenario.publish(part2)
        time.sleep(3)
        before = supervisor.proc
        own_stack.stop_redis()
        scenario.publish(part3, traffic / "complaints.jsonl")
        time.sleep(REDIS_OUTAGE_S)
        assert supervisor.proc is before and before.poll() is None, (
            "the worker must ride out a Redis outage"
        )
        own_stack.stack("up")  # Redis back
        found = scenario.wait_for("violations.v1", len(expected), timeout=240, settle=8)
        got = [orjson.loads(r.value)["violation_id"] for r in found]
        missing, repeated = expected - set(got), len(got) - len(set(got))
        assert not missing and not repeated and set(got) == expected, (
            f"missing {len(missing)}, repeated {repeated}, unexpected {len(set(got) - expected)}"
        )
        deadline = time.monotonic() + 60
        total = -1.0
        while time.monotonic() < deadline:
            text = scenario.metrics(supervisor.port)
            total = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("lastmile_violations_total{")
            )
            if total == len(expected):
                break
            time.sleep(2)
        assert total == len(expected), "the counter equals the truth"
    finally:
        supervisor.stopping.set()
        supervisor.join(timeout=5)
        scenario.stop_all()
