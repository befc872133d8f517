"""Contract §7 on the real stack: the worker's metrics and Redis read models give exactly
``detect``'s outbound and data-quality indicators, and they and the review read from Redis
name exactly the injected faults.

Nine simulated days (a silent point needs seven) of a small Yiyuan, with stalled
perishable parcels, silent points, a carrier signing without GPS and one whose clock runs
years ahead. Processing time is the wall clock in both: the worker's when it takes a
batch, ``detect``'s when it runs (no ``--as-of``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from workers import NETWORK, Scenario, simulated_traffic

from lastmile.domain.data_quality import silent_points
from lastmile.domain.network import load_network
from lastmile.domain.outbound import outbound_figures
from lastmile.domain.rules import RuleConfig
from lastmile.io.redis_client import connect
from lastmile.readmodel.keys import Keys
from lastmile.readmodel.produce import ProduceReader
from lastmile.review.figures import build_review
from lastmile.review.period import Period
from lastmile.review.redis_source import collect_redis
from lastmile.simulator.generator import DEFAULT_START
from lastmile.worker.produce_gauges import days_back

FAULTS = ("--stalled-perishable", "4", "--silent-points", "3")
SIM_DAYS = Period(DEFAULT_START, DEFAULT_START + timedelta(days=8))  # what --days 9 covers
CARRIERS = ("--missing-gps-carrier", "JT", "--skewed-clock-carrier", "STO")


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("produce")
    return simulated_traffic(out, seed=21, parcels=200, days=9, faults=(*FAULTS, *CARRIERS))


def samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """metric sample name → sorted labels → value."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def by(metric: dict, label: str) -> dict[str, float]:
    return {dict(k)[label]: v for k, v in metric.items()}


def wait_processed(scenario: Scenario, port: int, lines: int, timeout: float = 60) -> dict:
    topic = scenario.prefix + "scans.v1"
    deadline = time.monotonic() + timeout
    while True:
        m = samples(scenario.metrics(port))
        done = by(m.get("lastmile_events_processed_total", {}), "topic").get(topic, 0)
        if done >= lines or time.monotonic() > deadline:
            assert done == lines, f"processed {done} of {lines} scan lines"
            return samples(scenario.metrics(port))  # the gauges refresh at every scrape
        time.sleep(1.0)


def test_streamed_indicators_equal_detect_and_name_the_injected_faults(
    kafka_bootstrap, redis_url, tmp_path, county
):
    expected = orjson.loads((county / "indicators.json").read_bytes())
    truth = orjson.loads((county / "truth_summary.json").read_bytes())["data_faults"]["truth"]
    out, dq = expected["outbound"], expected["data_quality"]
    lines = sum(1 for _ in (county / "scans.jsonl").open("rb"))
    scenario = Scenario(kafka_bootstrap, redis_url, tmp_path)
    try:
        _, port = scenario.start_worker()
        scenario.publish(county / "scans.jsonl")
        m = wait_processed(scenario, port, lines)
    finally:
        scenario.stop_all()

    # outbound produce per town: what detect says, and the stalled parcels the truth injected
    for metric, key in (
        ("lastmile_outbound_parcels", "collected"),
        ("lastmile_outbound_perishable_parcels", "perishable"),
        ("lastmile_perishable_stalled_parcels", "perishable_stalled_now"),
        ("lastmile_perishable_stalled_ever_parcels", "perishable_stalled_ever"),
    ):
        got = {t: v for t, v in by(m[metric], "town").items() if v}
        assert got == {t: g[key] for t, g in out["by_town"].items() if g[key]}, metric
    assert [s["parcel_id"] for s in out["stalled_now"]] == truth["perishable_stalled_now"]
    assert [s["parcel_id"] for s in out["stalled_ever"]] == truth["perishable_stalled_ever"]
    ratio = by(m["lastmile_perishable_out_within_target_ratio"], "town")
    assert ratio == {
        t: g["perishable_out_share"]
        for t, g in out["by_town"].items()
        if g["perishable_out_share"] is not None
    }

    # silent points per town: detect's counts (the read model names them, below)
    assert by(m["lastmile_silent_village_points"], "town") == dq["silent_points_by_town"]

    # data quality per carrier: the counters equal detect's counts
    carriers = dq["by_carrier"]
    for metric, key in (
        ("lastmile_signoffs_without_location_total", "delivered_without_location"),
        ("lastmile_scans_clock_skewed_total", "clock_skewed"),
        ("lastmile_repeated_events_total", "repeated"),
    ):
        got = {c: v for c, v in by(m.get(metric, {}), "carrier").items() if v}
        assert got == {c: q[key] for c, q in carriers.items() if q[key]}, metric
    assert set(by(m["lastmile_scans_clock_skewed_total"], "carrier")) == {"STO"}
    invalid = {
        (dict(k)["carrier"], dict(k)["reason"]): v
        for k, v in m["lastmile_invalid_scans_by_carrier_total"].items()
    }
    assert invalid == {
        (c, r): n for c, q in carriers.items() for r, n in q["invalid_by_reason"].items()
    }
    unlocated = by(m["lastmile_signoffs_without_location_total"], "carrier")
    assert max(unlocated, key=unlocated.__getitem__) == "JT"

    # the Redis read model holds the same outbound facts, down to each village and parcel
    async def from_redis() -> dict:
        redis = connect(redis_url, decode_responses=False)
        try:
            reader = ProduceReader(redis, Keys(scenario.name))
            points, clock = await reader.activity()
            assert clock.newest == dq["data_clock"]["now_ts"]
            parcels = await reader.outbound(days_back(clock.newest, 30))
            silent = silent_points(points, network, clock.first, clock.newest, RuleConfig())
            # the review a regulator reads from Redis, over the simulated days
            collected = await collect_redis(redis, network, RuleConfig(), SIM_DAYS, scenario.name)
            review = build_review(collected, None, network, RuleConfig())
            return outbound_figures(parcels, RuleConfig(), clock.newest), silent, review
        finally:
            await redis.aclose()

    network = load_network(NETWORK)
    figures, silent, review = asyncio.run(from_redis())
    assert figures == out
    assert silent == dq["silent_points"]
    assert [p["point"] for p in silent] == truth["silent_points"]
    # ... and the review names exactly the injected faults
    stalled = review["outbound"]["stalled"]
    assert [s["parcel_id"] for s in stalled] == truth["perishable_stalled_ever"]
    assert [s["parcel_id"] for s in stalled if s["stalled_now"]] == truth["perishable_stalled_now"]
    assert [p["point"] for p in review["data_quality"]["silent_points"]] == truth["silent_points"]
    flags = {c["code"]: c["flags"] for c in review["data_quality"]["carriers"] if c["flags"]}
    assert flags == {"JT": ["signoffs_without_location"], "STO": ["clock_skewed"]}
