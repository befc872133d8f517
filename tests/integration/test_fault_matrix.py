"""Issue 11's fault scenarios on a stack of the test's own, with figures for each.

Each streams a simulated Yiyuan day from an outside producer in three parts while a fault
happens, under a supervisor that restarts the worker whenever it exits, then compares
``violations.v1``, the Redis read model and ``lastmile_violations_total`` with
``lastmile detect`` on the same files (tests/integration/faultkit.py), and checks that
``/healthz`` and the metrics said what was wrong while it lasted.

- broker stopped cleanly (SIGTERM) mid-stream, down past the stall timeout, restarted; the
  same with SIGKILL;
- Redis stopped for 60 s mid-stream (the 20 s version is test_operator_bad_day.py and
  test_worker_faults.py in ``make test``);
- a worker in a network namespace of its own cut off from the broker (veth link down) while
  another takes over its partitions, then reconnected.

All are ``make chaos`` (marker chaos): each needs a stack of its own and 1.5-2 minutes, too
slow for ``make test``. Their figures are in docs/reliability.md.

Print the figures with ``pytest -s`` or collect them with ``LASTMILE_TEST_FIGURES=FILE``.
"""

from __future__ import annotations

import os
import signal
import time
from functools import partial

import orjson
import pytest
from faultkit import (
    CutOffNamespace,
    Figures,
    OwnStack,
    Supervisor,
    expected_ids,
    settle,
    thirds,
)
from workers import Scenario, free_port, health, metric, simulated_traffic

STALL_S = 20  # LASTMILE_STALL_TIMEOUT_S here (10 s exited a worker still recovering after a broker restart)
REDIS_OUTAGE_S = float(os.environ.get("LASTMILE_TEST_LONG_REDIS_OUTAGE_S", "60"))


def wait_unhealthy(port: int, problem: str, timeout: float) -> dict:
    """/healthz's body once it answers 503 naming ``problem``."""
    deadline = time.monotonic() + timeout
    status, body = 0, {}
    while time.monotonic() < deadline:
        try:
            status, body = health(port)
        except OSError:
            status, body = 0, {}
        if status == 503 and problem in body.get("problems", {}):
            return body
        time.sleep(0.5)
    raise AssertionError(f"/healthz never reported {problem!r}: last {status} {body}")


def gauge(text: str, series: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def _run_broker_outage(
    own_stack: OwnStack, tmp_path, sig: int, seed: int, stall_s: int = STALL_S
) -> Figures:
    """Broker down mid-stream, then up again: past ``stall_s`` (the worker must exit 1 and be
    restarted), or at once when ``stall_s`` is longer than the restart (it must ride it out)."""
    rides_out = stall_s > STALL_S
    traffic = simulated_traffic(tmp_path / "traffic", seed=seed, parcels=600)
    expected = expected_ids(traffic)
    scenario = Scenario(own_stack.kafka, own_stack.redis_url, tmp_path, hold_s=1.0)
    part1, part2, part3 = thirds(traffic / "scans.jsonl", tmp_path)
    port = free_port()
    sup = Supervisor(scenario, port, LASTMILE_STALL_TIMEOUT_S=str(stall_s))
    first = sup.proc
    sup.start()
    exited_s: float | None = None
    try:
        scenario.publish(part1)
        time.sleep(2)
        own_stack.stop("kafka", sig)
        fault_at = time.monotonic()
        body = wait_unhealthy(port, "kafka", timeout=20)  # one probe (5 s) + its timeout (5 s)
        reported_s = time.monotonic() - fault_at
        assert body["kafka"]["reachable"] is False
        text = scenario.metrics(port)
        assert gauge(text, "lastmile_kafka_up") == 0
        assert gauge(text, 'lastmile_health_check{check="kafka"}') == 0
        if not rides_out:  # past the stall timeout the worker exits non-zero, not hangs
            assert first.wait(timeout=stall_s + 60) == 1, "a stalled worker exits with status 1"
            exited_s = time.monotonic() - fault_at
        own_stack.stack("up")
        recovering_from = time.monotonic()
        scenario.publish(part2)
        scenario.publish(part3, traffic / "complaints.jsonl")
        down = f"{recovering_from - fault_at:.0f} s" if rides_out else f"past {stall_s} s stall"
        fig = settle(
            f"broker {signal.Signals(sig).name}, down {down}",
            scenario,
            own_stack.redis_url,
            expected,
            [partial(scenario.metrics, port)],
            since=recovering_from,
        )
        fig.restarts, fig.exit_codes = sup.restarts, ",".join(map(str, sup.exit_codes))
        fig.reported_s = round(reported_s, 1)
        fig.exited_s = None if exited_s is None else round(exited_s, 1)
        fig.report()
        status, body = health(port)
        assert status == 200 and body["healthy"], body
        if rides_out:
            assert sup.proc is first and first.poll() is None, "it rode the restart out"
        return fig
    finally:
        sup.stop()


def _assert_exact(fig: Figures) -> None:
    assert fig.exact, f"not exactly once: {fig}"


@pytest.mark.chaos  # ~105 s with its own stack: too slow for make test
def test_a_broker_stopped_mid_stream_is_reported_the_worker_exits_and_nothing_is_lost(
    own_stack, tmp_path
):
    fig = _run_broker_outage(own_stack, tmp_path, signal.SIGTERM, seed=41)
    _assert_exact(fig)
    assert fig.restarts >= 1 and fig.exit_codes.split(",")[0] == "1"


@pytest.mark.chaos
def test_a_broker_killed_mid_stream_is_reported_the_worker_exits_and_nothing_is_lost(
    own_stack, tmp_path
):
    _assert_exact(_run_broker_outage(own_stack, tmp_path, signal.SIGKILL, seed=43))


@pytest.mark.chaos
def test_a_broker_restarted_at_once_is_ridden_out_by_the_worker(own_stack, tmp_path):
    """A rolling restart: the broker down only as long as it takes to start again."""
    _assert_exact(_run_broker_outage(own_stack, tmp_path, signal.SIGTERM, seed=59, stall_s=300))


@pytest.mark.chaos
def test_redis_away_for_a_minute_pauses_the_worker_and_everything_catches_up(own_stack, tmp_path):
    traffic = simulated_traffic(tmp_path / "traffic", seed=47, parcels=600)
    expected = expected_ids(traffic)
    scenario = Scenario(own_stack.kafka, own_stack.redis_url, tmp_path, hold_s=1.0)
    part1, part2, part3 = thirds(traffic / "scans.jsonl", tmp_path)
    port = free_port()
    # a stall timeout shorter than the outage: a Redis outage must not count as a stall
    sup = Supervisor(scenario, port, LASTMILE_STALL_TIMEOUT_S="30")
    first = sup.proc
    sup.start()
    try:
        scenario.publish(part1)
        time.sleep(2)
        own_stack.stop_redis()
        fault_at = time.monotonic()
        scenario.publish(part2)
        body = wait_unhealthy(port, "redis", timeout=30)
        assert body["redis"]["reachable"] is False
        reported_s = time.monotonic() - fault_at
        scenario.publish(part3, traffic / "complaints.jsonl")
        time.sleep(max(0.0, REDIS_OUTAGE_S - (time.monotonic() - fault_at)))
        assert first.poll() is None and sup.proc is first, "the worker rides out the outage"
        own_stack.stack("up")
        fig = settle(
            f"redis down {REDIS_OUTAGE_S:.0f} s",
            scenario,
            own_stack.redis_url,
            expected,
            [partial(scenario.metrics, port)],
            since=time.monotonic(),
        )
        fig.restarts, fig.reported_s = sup.restarts, round(reported_s, 1)
        fig.report()
        _assert_exact(fig)
        assert fig.restarts == 0
    finally:
        sup.stop()


@pytest.fixture
def cut_off_stack(tmp_path):
    """A stack of the test's own whose broker and Redis also answer on a veth address, and
    the namespace behind that veth."""
    ns = CutOffNamespace()
    ns.create()
    stack = OwnStack(tmp_path / "stack")
    extra_port = free_port()
    stack.env["LASTMILE_KAFKA_EXTRA_LISTENER"] = f"{ns.host_ip}:{extra_port}"
    stack.env["LASTMILE_REDIS_EXTRA_BIND"] = ns.host_ip
    try:
        stack.stack("up")
        yield stack, ns, f"{ns.host_ip}:{extra_port}"
    finally:
        stack.stack("clean")
        ns.delete()


CUT_S = float(os.environ.get("LASTMILE_TEST_CUT_S", "45"))


@pytest.mark.chaos
def test_a_worker_cut_off_from_the_broker_hands_over_and_rejoins_losing_nothing(
    cut_off_stack, tmp_path
):
    stack, ns, ns_bootstrap = cut_off_stack
    traffic = simulated_traffic(tmp_path / "traffic", seed=53, parcels=900)
    expected = expected_ids(traffic)
    scenario = Scenario(stack.kafka, stack.redis_url, tmp_path, hold_s=1.0)
    part1, part2, part3 = thirds(traffic / "scans.jsonl", tmp_path)
    inside_env = {
        "LASTMILE_KAFKA_BOOTSTRAP": ns_bootstrap,
        "LASTMILE_REDIS_URL": f"redis://{ns.host_ip}:{stack.env['LASTMILE_REDIS_PORT']}/0",
        "LASTMILE_STALL_TIMEOUT_S": str(STALL_S),
    }
    port_in, port_out = free_port(), free_port()
    inside = Supervisor(scenario, port_in, wrap=ns.wrap, host=ns.ns_ip, **inside_env)
    outside = Supervisor(scenario, port_out, LASTMILE_STALL_TIMEOUT_S=str(STALL_S))
    first_inside = inside.proc
    inside.start()
    outside.start()
    try:
        scenario.publish(part1)
        time.sleep(3)
        status, body = ns.get(f"http://{ns.ns_ip}:{port_in}/healthz")
        assert status == 200, f"the worker in the namespace is healthy before the cut: {body!r}"
        processed = scenario.metrics(port_in, ns.ns_ip)
        assert metric(processed, "lastmile_events_processed_total") > 0, "it took part"
        ns.cut()
        fault_at = time.monotonic()
        scenario.publish(part2)  # the outside worker takes the cut-off one's partitions
        deadline, status, body = fault_at + 30, 0, b""
        while time.monotonic() < deadline:
            status, body = ns.get(f"http://{ns.ns_ip}:{port_in}/healthz")
            if status == 503 and "kafka" in orjson.loads(body)["problems"]:
                break
            time.sleep(1)
        assert status == 503 and "kafka" in orjson.loads(body)["problems"], (status, body)
        reported_s = time.monotonic() - fault_at
        assert first_inside.wait(timeout=STALL_S + 60) == 1, "cut off, it exits with status 1"
        exited_s = time.monotonic() - fault_at
        time.sleep(max(0.0, CUT_S - (time.monotonic() - fault_at)))
        ns.mend()
        mended_at = time.monotonic()
        scenario.publish(part3, traffic / "complaints.jsonl")
        fig = settle(
            f"worker cut off {CUT_S:.0f} s (netns)",
            scenario,
            stack.redis_url,
            expected,
            [
                partial(scenario.metrics, port_out),
                partial(scenario.metrics, port_in, ns.ns_ip),
            ],
            since=mended_at,
        )
        fig.restarts = inside.restarts + outside.restarts
        fig.exit_codes = ",".join(map(str, inside.exit_codes + outside.exit_codes))
        fig.reported_s, fig.exited_s = round(reported_s, 1), round(exited_s, 1)
        fig.report()
        _assert_exact(fig)
        assert outside.restarts == 0, "the worker that kept its link never had to restart"
    finally:
        inside.stop()
        outside.stop()
