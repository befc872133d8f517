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
import time

import orjson
from faultkit import Supervisor, thirds
from workers import Scenario, free_port, simulated_traffic

REDIS_OUTAGE_S = float(os.environ.get("LASTMILE_TEST_REDIS_OUTAGE_S", "20"))


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
        supervisor.stop()
