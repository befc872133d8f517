"""The worker's health verdicts and its stall rule (worker/health.py), on made-up observations."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import NamedTuple

import pytest

from lastmile.metrics import Metrics
from lastmile.worker.health import Limits, Observation, RedisHealth, WorkerHealth
from lastmile.worker.watchdog import EXIT_GRACE_BROKER_GONE_S, EXIT_GRACE_S, exit_grace

LIMITS = Limits(max_lag=1000, stall_s=120.0, log_grace_s=30.0)
T0 = 1_000_000.0


def _health() -> WorkerHealth:
    m = Metrics.create()
    return WorkerHealth(LIMITS, RedisHealth(m.redis_up, m.redis_errors), started_at=T0)


def _obs(at: float, **changes) -> Observation:
    base = Observation(
        at=T0 + at,
        ready=True,
        kafka_error=None,
        lag=0,
        log_behind=0,
        committed=(("scans.v1", 0, 10),),
        recovering=False,
    )
    return replace(base, **changes)


def test_a_worker_keeping_up_is_healthy():
    h = _health()
    for t in range(0, 600, 5):
        assert h.observe(_obs(t, lag=3, committed=(("scans.v1", 0, t),))) is None
    assert h.current_problems() == {}
    assert h.as_dict()["healthy"] is True


def test_an_unreachable_broker_is_reported_at_once_and_stalls_after_the_timeout():
    h = _health()
    assert h.observe(_obs(0)) is None
    assert h.observe(_obs(5, kafka_error="KafkaTimeoutError")) is None
    assert "kafka" in h.current_problems()
    assert h.as_dict()["kafka"] == {"reachable": False, "down_since": T0 + 5}
    assert h.observe(_obs(120, kafka_error="KafkaTimeoutError")) is None  # 115 s down
    reason = h.observe(_obs(125, kafka_error="KafkaTimeoutError"))
    assert reason == "Kafka unreachable for 120 s"


def test_a_broker_back_before_the_timeout_clears_the_problem_and_the_clock():
    h = _health()
    h.observe(_obs(0, kafka_error="KafkaConnectionError"))
    h.observe(_obs(100, kafka_error="KafkaConnectionError"))
    assert h.observe(_obs(105)) is None
    assert "kafka" not in h.current_problems()
    assert h.observe(_obs(200, kafka_error="KafkaConnectionError")) is None  # a new outage


def test_behind_by_more_than_the_limit_is_unhealthy_but_not_stalled_while_it_moves():
    h = _health()
    for i, t in enumerate(range(0, 300, 5)):
        assert h.observe(_obs(t, lag=5000, committed=(("scans.v1", 0, i),))) is None
    assert h.current_problems().keys() == {"lag"}
    assert "5000 input messages waiting (limit 1000)" in h.current_problems()["lag"]


def test_input_waiting_and_nothing_committed_is_a_stall():
    h = _health()
    stuck = (("scans.v1", 0, 10),)
    h.observe(_obs(0, lag=50, committed=stuck))
    assert h.observe(_obs(25, lag=50, committed=stuck)) is None
    assert h.current_problems() == {}  # under the grace: a slow batch, not yet a problem
    assert h.observe(_obs(35, lag=50, committed=stuck)) is None
    assert "progress" in h.current_problems()
    assert h.observe(_obs(120, lag=50, committed=stuck)) == "no progress for 120 s with 50 waiting"


@pytest.mark.parametrize(
    "excuse",
    [{"lag": 50, "recovering": True}, {"lag": 0}],
    ids=["tables recovering", "nothing to do"],
)
def test_no_commits_are_not_a_stall_when_there_is_a_reason(excuse):
    h = _health()
    for t in range(0, 600, 5):
        assert h.observe(_obs(t, **excuse)) is None


def test_a_redis_outage_pauses_the_worker_without_counting_as_a_stall():
    h = _health()
    h.redis.failed("apply", ConnectionError("refused"))
    for t in range(0, 600, 5):
        assert h.observe(_obs(t, lag=50)) is None
    assert h.current_problems().keys() == {"redis"}
    h.redis.ok()
    assert h.current_problems() == {}  # seen at once, not at the next probe
    # the clock restarts from the last probe that saw Redis down (595 s)
    assert h.observe(_obs(710, lag=50)) is None
    assert h.observe(_obs(720, lag=50)) == "no progress for 125 s with 50 waiting"


def test_the_violation_log_trailing_past_the_grace_is_reported():
    h = _health()
    h.observe(_obs(0, log_behind=7))
    h.observe(_obs(20, log_behind=7))
    assert "violation_log" not in h.current_problems()
    h.observe(_obs(30, log_behind=7))
    assert h.current_problems()["violation_log"].startswith("7 violations on the log")
    h.observe(_obs(35, log_behind=0))
    assert "violation_log" not in h.current_problems()


def test_never_ready_is_reported_and_stalls_after_the_timeout():
    h = _health()
    assert h.observe(_obs(5, ready=False, lag=None, log_behind=None)) is None
    assert "violation_log" in h.current_problems()
    assert h.observe(_obs(125, ready=False)) == "not ready 125 s after start"


# -- the watchdog (worker/watchdog.py) on a stand-in app and violation log -----------------


class _TP(NamedTuple):
    topic: str
    partition: int


class _App:
    def __init__(self) -> None:
        self.high = {_TP("scans.v1", 0): 100, _TP("scans.v1", 1): 50}
        self.done = {_TP("scans.v1", 0): 100, _TP("scans.v1", 1): 50}
        self.in_recovery = False
        self.consumer = self
        self.assignor = self

    def assigned_actives(self):
        return set(self.high)

    def highwater(self, tp):
        return self.high[tp]

    @property
    def _committed_offset(self):
        return self.done


class _Log:
    def __init__(self) -> None:
        self.error: Exception | None = None
        self.behind = 0

    async def backlog(self) -> int:
        if self.error is not None:
            raise self.error
        return self.behind


def _watchdog(clock):
    from lastmile.worker.watchdog import Watchdog

    m = Metrics.create()
    health = WorkerHealth(LIMITS, RedisHealth(m.redis_up, m.redis_errors), started_at=T0)
    app, vlog, ready, stalls = _App(), _Log(), asyncio.Event(), []
    ready.set()

    async def on_stall(exc):
        stalls.append(exc)

    dog = Watchdog(app, health, vlog, m, ["scans.v1"], ready, on_stall, clock=clock)
    return dog, app, vlog, m, stalls


def _sample(m: Metrics, name: str, **labels) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_the_watchdog_reports_a_lost_broker_then_stops_the_worker():
    now = [T0]
    dog, _app, vlog, m, stalls = _watchdog(lambda: now[0])

    async def run():
        await dog.tick()
        assert _sample(m, "lastmile_kafka_up") == 1
        assert _sample(m, "lastmile_health_check", check="kafka") == 1
        body = dog.report(watermark=1.0)
        assert body["healthy"] is True and body["ready"] is True and body["watermark"] == 1.0
        vlog.error = TimeoutError()
        for _ in range(30):  # 150 s of probes
            now[0] += 5
            await dog.tick()
        assert _sample(m, "lastmile_kafka_up") == 0
        assert _sample(m, "lastmile_health_check", check="kafka") == 0
        body = dog.report()
        assert body["healthy"] is False and "kafka" in body["problems"]

    asyncio.run(run())
    assert [str(x) for x in stalls] == ["Kafka unreachable for 120 s"]  # once: it stops looking
    assert stalls[0].broker_gone, "its clean stop gets the short grace"
    assert exit_grace(stalls[0]) == EXIT_GRACE_BROKER_GONE_S < EXIT_GRACE_S


def test_a_worker_stalled_with_the_broker_answering_gets_the_long_grace():
    now = [T0]
    dog, app, _vlog, _m, stalls = _watchdog(lambda: now[0])
    app.high[_TP("scans.v1", 1)] = 60  # input waiting, nothing committed from now on

    async def run():
        for _ in range(30):  # 150 s of probes, the broker answering each
            await dog.tick()
            now[0] += 5

    asyncio.run(run())
    assert [str(x).split(" for ")[0] for x in stalls] == ["no progress"]
    assert not stalls[0].broker_gone, "a clean stop can still commit and leave the group"
    assert exit_grace(stalls[0]) == EXIT_GRACE_S


def test_the_watchdog_reads_lag_and_log_backlog_from_the_app():
    now = [T0]
    dog, app, vlog, m, stalls = _watchdog(lambda: now[0])
    app.high[_TP("scans.v1", 1)] = 5000  # 4950 waiting: over the limit of 1000
    vlog.behind = 3

    async def run():
        await dog.tick()

    asyncio.run(run())
    assert _sample(m, "lastmile_violation_log_behind_messages") == 3
    assert _sample(m, "lastmile_health_check", check="lag") == 0
    assert dog.report()["consumer_lag"] == 4950
    assert stalls == []
