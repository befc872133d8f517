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

All are ``make chaos`` (marker chaos): each needs a stack of its own and 1.5-2 minutes.
Short versions of the broker and network runs (fault_runs.py, shared with these) are in
``make test``: test_faults_short.py. The figures are in docs/reliability.md.

Print the figures with ``pytest -s`` or collect them with ``LASTMILE_TEST_FIGURES=FILE``.
"""

from __future__ import annotations

import os
import signal
import time
from functools import partial

import pytest
from fault_runs import Size, broker_outage, wait_unhealthy, worker_cut_off
from faultkit import Figures, Supervisor, expected_ids, settle, thirds
from workers import Scenario, free_port, simulated_traffic

STALL_S = 20  # LASTMILE_STALL_TIMEOUT_S here (10 s exited a worker still recovering after a broker restart)
REDIS_OUTAGE_S = float(os.environ.get("LASTMILE_TEST_LONG_REDIS_OUTAGE_S", "60"))
CUT_S = float(os.environ.get("LASTMILE_TEST_CUT_S", "45"))


def _assert_exact(fig: Figures) -> None:
    assert fig.exact, f"not exactly once: {fig}"


@pytest.mark.chaos  # ~80 s with its own stack; the short version is test_faults_short.py
def test_a_broker_stopped_mid_stream_is_reported_the_worker_exits_and_nothing_is_lost(
    own_stack, tmp_path
):
    fig = broker_outage(own_stack, tmp_path, signal.SIGTERM, Size(600, STALL_S, seed=41))
    _assert_exact(fig)
    assert fig.restarts >= 1 and fig.exit_codes.split(",")[0] == "1"


@pytest.mark.chaos
def test_a_broker_killed_mid_stream_is_reported_the_worker_exits_and_nothing_is_lost(
    own_stack, tmp_path
):
    _assert_exact(broker_outage(own_stack, tmp_path, signal.SIGKILL, Size(600, STALL_S, seed=43)))


@pytest.mark.chaos
def test_a_broker_restarted_at_once_is_ridden_out_by_the_worker(own_stack, tmp_path):
    """A rolling restart: the broker down only as long as it takes to start again."""
    size = Size(600, stall_s=300, seed=59)
    _assert_exact(broker_outage(own_stack, tmp_path, signal.SIGTERM, size, rides_out=True))


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


@pytest.mark.chaos
def test_a_worker_cut_off_from_the_broker_hands_over_and_rejoins_losing_nothing(
    cut_off_stack, tmp_path
):
    stack, ns, ns_bootstrap = cut_off_stack
    size = Size(900, STALL_S, seed=53)
    fig, outside_restarts = worker_cut_off(stack, ns, ns_bootstrap, tmp_path, size, cut_s=CUT_S)
    _assert_exact(fig)
    assert outside_restarts == 0, "the worker that kept its link never had to restart"
