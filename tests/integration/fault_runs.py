"""Issue 11's broker and network scenarios as runs of a given size and timing.

The full runs are ``make chaos`` (test_fault_matrix.py); short runs of the same scenarios,
with fewer parcels, a shorter stall timeout and a shorter cut, are in ``make test``
(test_faults_short.py). Each run streams a simulated Yiyuan day in three parts while the
fault happens, under supervisors that restart a worker whenever it exits, checks what
``/healthz`` and the metrics said while the fault lasted, and returns the figures against
``lastmile detect`` on the same files (faultkit.py). The caller asserts on them.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import orjson
from faultkit import (
    CutOffNamespace,
    Figures,
    OwnStack,
    Supervisor,
    expected_ids,
    group_behind,
    settle,
    thirds,
)
from workers import Scenario, free_port, health, metric, simulated_traffic

# how long after a fault /healthz may take to name it: one probe interval + its timeout
# (worker/health.py, 5-10 s) with room for a loaded machine
REPORT_WITHIN_S = 30.0
# how long after a cut the other worker may take to have committed everything published:
# the cut-off worker's session expires (15 s), a rebalance, the work itself
TAKEOVER_WITHIN_S = 90.0


@dataclass(frozen=True)
class Size:
    """How big and how long a run is."""

    parcels: int  # simulated parcels in the day streamed
    stall_s: int  # the workers' LASTMILE_STALL_TIMEOUT_S
    seed: int


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


def broker_outage(
    stack: OwnStack, tmp_path: Path, sig: int, size: Size, rides_out: bool = False
) -> Figures:
    """The broker stopped with ``sig`` mid-stream, then started again.

    ``rides_out``: it is started again at once and the worker (``size.stall_s`` longer than
    the restart) must ride the outage out; otherwise it stays down until the worker has
    exited with status 1, past its stall timeout, and the supervisor restarts the worker.
    """
    traffic = simulated_traffic(tmp_path / "traffic", seed=size.seed, parcels=size.parcels)
    expected = expected_ids(traffic)
    scenario = Scenario(stack.kafka, stack.redis_url, tmp_path, hold_s=1.0)
    part1, part2, part3 = thirds(traffic / "scans.jsonl", tmp_path)
    port = free_port()
    sup = Supervisor(scenario, port, LASTMILE_STALL_TIMEOUT_S=str(size.stall_s))
    first = sup.proc
    sup.start()
    exited_s: float | None = None
    try:
        scenario.publish(part1)
        time.sleep(2)
        stack.stop("kafka", sig)
        fault_at = time.monotonic()
        body = wait_unhealthy(port, "kafka", timeout=REPORT_WITHIN_S)
        reported_s = time.monotonic() - fault_at
        assert body["kafka"]["reachable"] is False
        text = scenario.metrics(port)
        assert gauge(text, "lastmile_kafka_up") == 0
        assert gauge(text, 'lastmile_health_check{check="kafka"}') == 0
        if not rides_out:  # past the stall timeout the worker exits non-zero, not hangs
            assert first.wait(timeout=size.stall_s + 60) == 1, "a stalled worker exits with 1"
            exited_s = time.monotonic() - fault_at
        stack.stack("up")
        recovering_from = time.monotonic()
        scenario.publish(part2)
        scenario.publish(part3, traffic / "complaints.jsonl")
        down = (
            f"{recovering_from - fault_at:.0f} s" if rides_out else f"past {size.stall_s} s stall"
        )
        fig = settle(
            f"broker {signal.Signals(sig).name}, down {down}, {size.parcels} parcels",
            scenario,
            stack.redis_url,
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


def worker_cut_off(
    stack: OwnStack,
    ns: CutOffNamespace,
    ns_bootstrap: str,
    tmp_path: Path,
    size: Size,
    cut_s: float,
) -> tuple[Figures, int]:
    """Two workers, one in the namespace ``ns``; its link is cut mid-stream while the other
    takes over its partitions; it must say so, exit with status 1 past its stall timeout
    and, the link mended after ``cut_s`` (or once it has exited, if later), rejoin.
    Returns the figures and how many times the outside worker was restarted."""
    traffic = simulated_traffic(tmp_path / "traffic", seed=size.seed, parcels=size.parcels)
    expected = expected_ids(traffic)
    scenario = Scenario(stack.kafka, stack.redis_url, tmp_path, hold_s=1.0)
    part1, part2, part3 = thirds(traffic / "scans.jsonl", tmp_path)
    stall = str(size.stall_s)
    inside_env = {
        "LASTMILE_KAFKA_BOOTSTRAP": ns_bootstrap,
        "LASTMILE_REDIS_URL": f"redis://{ns.host_ip}:{stack.env['LASTMILE_REDIS_PORT']}/0",
        "LASTMILE_STALL_TIMEOUT_S": stall,
    }
    port_in, port_out = free_port(), free_port()
    inside = Supervisor(scenario, port_in, wrap=ns.wrap, host=ns.ns_ip, **inside_env)
    outside = Supervisor(scenario, port_out, LASTMILE_STALL_TIMEOUT_S=stall)
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
        reported_s = _wait_cut_off_reported(ns, port_in, fault_at + REPORT_WITHIN_S) - fault_at
        assert first_inside.wait(timeout=size.stall_s + 60) == 1, "cut off, it exits with 1"
        exited_s = time.monotonic() - fault_at
        # the cut-off worker cannot commit: input all committed means the other took over
        _wait_taken_over(stack, scenario, fault_at + TAKEOVER_WITHIN_S)
        taken_over_s = time.monotonic() - fault_at
        time.sleep(max(0.0, cut_s - (time.monotonic() - fault_at)))
        ns.mend()
        mended_at = time.monotonic()
        scenario.publish(part3, traffic / "complaints.jsonl")
        fig = settle(
            f"worker cut off {mended_at - fault_at:.0f} s (netns), {size.parcels} parcels",
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
        fig.taken_over_s = round(taken_over_s, 1)
        fig.report()
        return fig, outside.restarts
    finally:
        inside.stop()
        outside.stop()


def _wait_taken_over(stack: OwnStack, scenario: Scenario, deadline: float) -> None:
    """Until the group has committed every scan published so far (the link still cut)."""
    scans = scenario.prefix + "scans.v1"
    behind = group_behind(stack.kafka, scenario.name, scans)
    while behind and time.monotonic() < deadline:
        time.sleep(1)
        behind = group_behind(stack.kafka, scenario.name, scans)
    assert behind == 0, f"{behind} scans not committed with the other worker cut off"


def _wait_cut_off_reported(ns: CutOffNamespace, port: int, deadline: float) -> float:
    """When the cut-off worker's /healthz (asked from inside its namespace) named Kafka."""
    status, body = 0, b""
    while time.monotonic() < deadline:
        status, body = ns.get(f"http://{ns.ns_ip}:{port}/healthz")
        if status == 503 and "kafka" in orjson.loads(body)["problems"]:
            return time.monotonic()
        time.sleep(1)
    raise AssertionError(f"the cut-off worker's /healthz never named kafka: {status} {body!r}")


def cut_off_stack(tmp_path: Path) -> Iterator[tuple[OwnStack, CutOffNamespace, str]]:
    """A stack of the test's own whose broker and Redis also answer on a veth address, the
    namespace behind that veth and that address's bootstrap (for a pytest fixture)."""
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


__all__ = ["Size", "broker_outage", "cut_off_stack", "gauge", "wait_unhealthy", "worker_cut_off"]
