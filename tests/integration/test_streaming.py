"""The streaming pipeline on the real broker and Redis gives exactly detect's answer.

Each test runs real `lastmile worker` processes (Faust) against Kafka and Redis started
by .ci/run, on simulated Yiyuan traffic with injected violations of every rule.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from workers import NETWORK, Scenario, simulated_traffic, split_lines

from lastmile.contract.decode import REASONS
from lastmile.domain.findings import violation_id


@pytest.fixture(scope="module")
def traffic(tmp_path_factory) -> Path:
    """A simulated day (seeded), and detect's answer on it."""
    return simulated_traffic(tmp_path_factory.mktemp("traffic"), seed=11)


def ids(path: Path) -> set[str]:
    return {orjson.loads(x)["violation_id"] for x in path.read_bytes().splitlines() if x.strip()}


def dlq_count(path: Path, source: str) -> int:
    return sum(1 for x in path.read_bytes().splitlines() if orjson.loads(x)["source"] == source)


@pytest.fixture
def scenario(kafka_bootstrap, redis_url, tmp_path):
    s = Scenario(kafka_bootstrap, redis_url, tmp_path)
    yield s
    s.stop_all()


def assert_exactly(found: list[dict], expected: set[str]) -> None:
    got = [v["violation_id"] for v in found]
    assert len(got) == len(set(got)), "a violation id was published twice"
    missing = expected - set(got)
    assert set(got) == expected, (
        f"missing {len(missing)}, unexpected {len(set(got) - expected)}; missing ids: "
        f"{sorted(missing)[:20]}"
    )


def test_streamed_violations_equal_detect_and_invalid_lines_are_dead_lettered(scenario, traffic):
    expected = ids(traffic / "detected.jsonl")
    assert len(expected) > 50
    _, port = scenario.start_worker()
    scenario.publish(traffic / "scans.jsonl", traffic / "complaints.jsonl")
    found = scenario.wait_for("violations.v1", len(expected))
    assert_exactly([orjson.loads(r.value) for r in found], expected)
    dead = scenario.wait_for("scans.v1.dlq", dlq_count(traffic / "dlq.jsonl", "scans"), settle=0)
    assert len(dead) == dlq_count(traffic / "dlq.jsonl", "scans")
    reasons = {dict(r.headers)["lastmile-reason"].decode() for r in dead}
    assert reasons <= set(REASONS)
    raw_lines = set((traffic / "scans.jsonl").read_bytes().splitlines())
    assert all(r.value in raw_lines for r in dead), "dead letters keep the original bytes"
    # the metric counts each violation once, by type
    text = scenario.metrics(port)
    by_type: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("lastmile_violations_total{"):
            vtype = line.split('type="')[1].split('"')[0]
            by_type[vtype] = by_type.get(vtype, 0) + float(line.rsplit(" ", 1)[1])
    detected = [orjson.loads(x) for x in (traffic / "detected.jsonl").read_bytes().splitlines()]
    want: dict[str, float] = {}
    for v in detected:
        want[v["type"]] = want.get(v["type"], 0) + 1
    assert by_type == want


def test_kill_minus_9_mid_stream_loses_nothing_and_repeats_nothing(scenario, traffic, tmp_path):
    scenario.store = "rocksdb://"
    expected = ids(traffic / "detected.jsonl")
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    split_lines(traffic / "scans.jsonl", first, second)
    proc, port = scenario.start_worker()
    scenario.publish(first)
    time.sleep(4)  # let it process (and publish violations) part of the way
    scenario.kill(proc, signal.SIGKILL)
    before = len(scenario.records("violations.v1"))
    assert 0 < before < len(expected), "the kill should land mid-stream"
    scenario.publish(second, traffic / "complaints.jsonl")
    _, port = scenario.start_worker(port)
    found = scenario.wait_for("violations.v1", len(expected), settle=5)
    assert_exactly([orjson.loads(r.value) for r in found], expected)
    # a restarted worker reports the same totals: counted from the log, not since start
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in scenario.metrics(port).splitlines()
        if line.startswith("lastmile_violations_total{")
    )
    assert total == len(expected)


def test_two_workers_share_the_partitions_and_publish_each_violation_once(scenario, traffic):
    expected = ids(traffic / "detected.jsonl")
    scenario.start_worker()
    scenario.start_worker()
    scenario.publish(traffic / "scans.jsonl", traffic / "complaints.jsonl")
    found = scenario.wait_for("violations.v1", len(expected), settle=5)
    assert_exactly([orjson.loads(r.value) for r in found], expected)


def test_a_late_complaint_is_judged_against_everything_known(scenario, traffic, tmp_path):
    flagged = {
        orjson.loads(x)["parcel_id"] for x in (traffic / "detected.jsonl").read_bytes().splitlines()
    }
    pid = None
    for line in (traffic / "scans.jsonl").read_bytes().splitlines():
        try:
            s = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if (
            isinstance(s, dict)
            and s.get("type") == "delivered"
            and s.get("parcel_id") not in flagged
        ):
            pid, signed_at = s["parcel_id"], s["occurred_at"]
            break
    assert pid is not None
    scenario.start_worker()
    scenario.publish(traffic / "scans.jsonl")
    late = tmp_path / "late.jsonl"
    late.write_bytes(
        orjson.dumps(
            {
                "complaint_id": "12305-LATE-1",
                "parcel_id": pid,
                "category": "not_received",
                "filed_at": (datetime.fromisoformat(signed_at) + timedelta(days=5)).isoformat(),
            }
        )
        + b"\n"
    )
    time.sleep(3)
    scenario.publish(complaints=late)
    target = violation_id(pid, "false_signoff", "complaint")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = {v["violation_id"]: v for v in scenario.violations()}
        if target in found:
            break
        time.sleep(1)
    assert target in found
    assert "12305-LATE-1" in found[target]["evidence"]


def test_a_late_return_scan_still_cancels_movement_after_signoff(scenario, tmp_path):
    """The return reaches the broker after the movement it excuses: the hold waits for it."""
    net = orjson.loads(NETWORK.read_bytes())
    village = net["villages"][0]
    point = village["points"][0]
    county = next(n["id"] for n in net["nodes"] if n["tier"] == "county")
    t0 = datetime.fromisoformat("2026-11-02T08:00:00+08:00")

    def line(eid, pid, type_, minutes, node, **extra):
        at = (t0 + timedelta(minutes=minutes)).isoformat()
        msg = {
            "event_id": eid,
            "parcel_id": pid,
            "carrier": "YTO",
            "type": type_,
            "occurred_at": at,
            "node_id": node,
            **extra,
        }
        return orjson.dumps(msg) + b"\n"

    def journey(pid):
        return [
            line(f"{pid}-1", pid, "arrived", 0, county, destination={"village": village["code"]}),
            line(f"{pid}-2", pid, "delivered", 600, point, signoff={"method": "recipient"}),
            line(f"{pid}-3", pid, "departed", 640, point),  # moved 40 min after the sign-off
        ]

    first, late = tmp_path / "first.jsonl", tmp_path / "late.jsonl"
    first.write_bytes(b"".join([*journey("RET-1"), b"\n", *journey("MOV-1")]))  # and a blank line
    late.write_bytes(line("RET-1-r", "RET-1", "returned", 620, point))  # refused, then moved
    scenario.start_worker()
    scenario.publish(first)
    time.sleep(2)
    scenario.publish(late)
    moved = violation_id("MOV-1", "false_signoff", "movement_after_signoff")
    found = scenario.wait_for("violations.v1", 1, timeout=90, settle=scenario.hold_s + 3)
    ids = {orjson.loads(r.value)["violation_id"] for r in found}
    assert moved in ids
    assert violation_id("RET-1", "false_signoff", "movement_after_signoff") not in ids
    (dead,) = scenario.records("scans.v1.dlq")  # the blank line, like detect's DLQ file
    assert dead.value == b"" and dict(dead.headers)["lastmile-reason"] == b"invalid_json"
