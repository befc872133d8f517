"""The order of effects under faults (ADR 0001): nothing lost, nothing repeated.

- A worker that dies between publishing a held violation and removing its hold (at either
  side of the broker's acknowledgement) leaves the hold, so after a restart the violation
  is on ``violations.v1`` exactly once.
- A Redis outage mid-stream does not stop the worker: it waits, says so on ``/healthz``
  and ``lastmile_redis_up``, and the read models catch up without gaps or repeats.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
import redis
from workers import (
    NETWORK,
    Scenario,
    free_port,
    health,
    metric,
    simulated_traffic,
    split_lines,
)

from lastmile.domain.findings import violation_id
from lastmile.readmodel.keys import Keys
from lastmile.worker.faults import FAULT_EXIT


@pytest.fixture
def scenario(kafka_bootstrap, redis_url, tmp_path):
    s = Scenario(kafka_bootstrap, redis_url, tmp_path, hold_s=1.0)
    yield s
    s.stop_all()


def moved_after_signoff(tmp_path: Path, pid: str) -> Path:
    """One inbound parcel signed off at its village point, then moved on 40 min later."""
    net = orjson.loads(NETWORK.read_bytes())
    village = net["villages"][0]
    point = village["points"][0]
    county = next(n["id"] for n in net["nodes"] if n["tier"] == "county")
    t0 = datetime.fromisoformat("2026-11-02T08:00:00+08:00")

    def line(n: int, type_: str, minutes: float, node: str, **extra: object) -> bytes:
        at = (t0 + timedelta(minutes=minutes)).isoformat()
        msg = {"event_id": f"{pid}-{n}", "parcel_id": pid, "carrier": "YTO", "type": type_}
        return orjson.dumps({**msg, "occurred_at": at, "node_id": node, **extra}) + b"\n"

    out = tmp_path / f"{pid}.jsonl"
    out.write_bytes(
        line(1, "arrived", 0, county, destination={"village": village["code"]})
        + line(2, "delivered", 600, point, signoff={"method": "recipient"})
        + line(3, "departed", 640, point)
    )
    return out


@pytest.mark.parametrize("point", ["hold-published", "hold-released"])
def test_a_crash_around_a_hold_release_loses_and_repeats_nothing(scenario, tmp_path, point):
    pid = f"CRASH-{point}"
    target = violation_id(pid, "false_signoff", "movement_after_signoff")
    proc, port = scenario.start_worker(LASTMILE_FAULTS=point)
    scenario.publish(moved_after_signoff(tmp_path, pid))
    assert proc.wait(timeout=60) == FAULT_EXIT, "the worker should die at the fault point"
    scenario.start_worker(port)  # the same slot restarts, without the fault
    found = scenario.wait_for("violations.v1", 1, timeout=90, settle=scenario.hold_s + 4)
    published = [orjson.loads(r.value)["violation_id"] for r in found]
    assert published == [target]


# ------------------------------------------------------------------ Redis outage
class OwnRedis:
    """A redis-server of the test's own (loopback, AOF on), to stop and start at will."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.dir = tmp / "redis"
        self.dir.mkdir()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is installed by deploy/local/install.sh"
        self.proc = subprocess.Popen(
            [
                *(exe, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir)),
                *("--appendonly", "yes", "--save", "", "--protected-mode", "yes"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)  # a clean shutdown: the AOF is complete
        self.proc.wait(timeout=30)


def test_a_redis_outage_mid_stream_pauses_the_worker_and_the_read_models_catch_up(
    kafka_bootstrap, tmp_path
):
    traffic = simulated_traffic(tmp_path / "traffic", seed=23, parcels=800)
    expected = {
        orjson.loads(x)["violation_id"]
        for x in (traffic / "detected.jsonl").read_bytes().splitlines()
    }
    own = OwnRedis(tmp_path)
    own.start()
    scenario = Scenario(kafka_bootstrap, own.url, tmp_path, hold_s=1.0)
    try:
        first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
        split_lines(traffic / "scans.jsonl", first, second)
        proc, port = scenario.start_worker()
        scenario.publish(first)
        time.sleep(3)
        own.stop()
        scenario.publish(second, traffic / "complaints.jsonl")
        deadline = time.monotonic() + 30
        status, body = health(port)
        while status != 503 and time.monotonic() < deadline:
            time.sleep(0.5)
            status, body = health(port)
        assert status == 503 and body["redis"]["reachable"] is False
        assert metric(scenario.metrics(port), "lastmile_redis_up") == 0
        time.sleep(10)  # an outage long enough for every timer to hit it
        assert proc.poll() is None, "the worker must survive a Redis outage"
        own.start()
        found = scenario.wait_for("violations.v1", len(expected), timeout=180, settle=5)
        got = [orjson.loads(r.value)["violation_id"] for r in found]
        assert len(got) == len(set(got)) and set(got) == expected
        deadline = time.monotonic() + 60
        client = redis.Redis.from_url(own.url)
        keys = Keys(scenario.name)
        while time.monotonic() < deadline:
            projected = client.zcard(keys.violations_all)
            if projected >= len(expected):
                break
            time.sleep(1)
        assert projected == len(expected), "every violation projected once, none missing"
        rollup_total = sum(
            int(n)
            for key in client.scan_iter(keys.violation_rollup("*"))
            for n in client.hvals(key)
        )
        assert rollup_total == len(expected), "the daily rollups count each violation once"
        status, _ = health(port)
        assert status == 200
        text = scenario.metrics(port)
        assert metric(text, "lastmile_redis_up") == 1
        assert metric(text, "lastmile_violations_total") == len(expected)
        assert metric(text, "lastmile_redis_errors_total") > 0
    finally:
        scenario.stop_all()
        if own.proc is not None and own.proc.poll() is None:
            own.stop()


def test_a_bug_in_an_agent_stops_the_worker_cleanly_with_one_error(scenario, tmp_path):
    proc, _ = scenario.start_worker(LASTMILE_FAULTS="agent-error")
    scenario.publish(moved_after_signoff(tmp_path, "BUG-1"))
    assert proc.wait(timeout=60) == 1, "a fatal error exits non-zero"
    log = "".join(p.read_text() for p in tmp_path.glob("worker-*.log"))
    assert log.count("Traceback") == 1, "the bug is logged once, where it happened"
    assert "Cannot flush" not in log and "CancelledError" not in log, "no second crash"
    assert "error: the worker stopped after an error: FaultInjected" in log
