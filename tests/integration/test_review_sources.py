"""The two sources of a review agree: the worker's Redis read models and a replay of the log.

Simulated events go through the worker's pure batch step and its Redis projector (as the
streaming worker does, without Kafka), then the review read from Redis is compared with
the review replayed from the same events, figure by figure.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from lastmile.contract.decode import InvalidMessage, decode_complaint, decode_scan
from lastmile.domain.data_quality import DataQualityTally
from lastmile.domain.engine import Detection
from lastmile.domain.events import ScanEvent
from lastmile.domain.network import load_network
from lastmile.domain.path import ParcelPath
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.parcels import Located, step_parcels
from lastmile.pipeline.produce import step_produce
from lastmile.pipeline.runstate import RunState
from lastmile.readmodel.keys import Keys
from lastmile.readmodel.writer import ReadModelWriter
from lastmile.review.figures import build_review
from lastmile.review.period import Period
from lastmile.review.redis_source import collect_redis
from lastmile.review.replay import collect_replay, replay_events
from lastmile.settings import DEFAULT_NETWORK
from lastmile.simulator import simulate

BATCH = 250
NOW = datetime.now(UTC)  # processing time of both sources
# figures both sources give (the replay alone has dwell and stuck parcels)
CORE = (
    "parcels",
    "deliveries",
    "deliveries_remote",
    "end_to_end_measured",
    "on_time_72h",
    "on_time_rate",
    "end_to_end_median_h",
    "end_to_end_p90_h",
    "violations",
    "violations_total",
    "violations_by_rule",
    "violations_per_10k_deliveries",
    "violations_per_10k_by_type",
    "complaints",
    "complaints_total",
    "complaints_per_million_parcels",
    "worst_villages",
)
TOWN_ONLY = (
    "villages",
    "villages_reached",
    "coverage",
    "villages_not_reached",
    "brands",
    "brand_count",
)
CARRIER = tuple(k for k in CORE if k != "worst_villages")


def decoded_events(sim):
    events = []
    for raw in sim.scan_lines:
        with suppress(InvalidMessage):
            events.append(decode_scan(raw))
    for raw in sim.complaint_lines:
        with suppress(InvalidMessage):
            events.append(decode_complaint(raw))
    # time order: the worker's first-seen keys (parcel day and town) then match the replay
    return sorted(events, key=lambda e: e.sort_key)


@pytest.fixture(scope="module")
def county():
    network = load_network(DEFAULT_NETWORK)
    sim = simulate(network, days=3, parcels_per_day=400, seed=11)
    return network, decoded_events(sim)


async def project(redis: Redis, network, events, prefix: str, config: RuleConfig):
    writer = ReadModelWriter(redis, Keys(prefix))
    table: dict[str, ParcelPath] = {}
    state = RunState()
    for i in range(0, len(events), BATCH):
        batch = [Located(e, "scans.v1", 0) for e in events[i : i + BATCH]]
        fx = step_parcels(batch, lambda pid, _: table.get(pid), network, config, state)
        step_produce(batch, fx, network, config, NOW.timestamp(), state.watermark)
        for paths in fx.states.values():
            table.update(paths)
        await writer.write(fx.read_model)
    detection = Detection(network, config)
    detection.add_all(events)
    violations = detection.violations(NOW)
    for i in range(0, len(violations), BATCH):
        await writer.violations(violations[i : i + BATCH])
    return detection


@pytest.fixture
async def redis(redis_url):
    client = Redis.from_url(redis_url)
    prefix = f"lmtest-review-{uuid.uuid4().hex[:10]}"
    yield client, prefix
    keys = [k for m in Keys(prefix).patterns() async for k in client.scan_iter(match=m, count=1000)]
    for i in range(0, len(keys), 500):
        await client.delete(*keys[i : i + 500])
    await client.aclose()


def compare(a: dict, b: dict, keys: tuple[str, ...], where: str) -> None:
    for k in keys:
        assert a[k] == b[k], f"{where}: {k}: redis {a[k]!r} != replay {b[k]!r}"


async def test_redis_rollups_and_replay_give_the_same_review(county, redis):
    network, events = county
    client, prefix = redis
    config = RuleConfig()
    detection = await project(client, network, events, prefix, config)
    replay = replay_events(detection)
    replay.tally = DataQualityTally(network, config, NOW.timestamp())
    for e in events:
        if isinstance(e, ScanEvent):
            replay.tally.scan(e)
    span = replay.span()
    assert span is not None and replay.violations

    # the whole log; then one day with its previous day (coverage only agrees at the log's end)
    second = span.start + timedelta(days=1)
    periods = [span, Period(second, second)]
    for n, period in enumerate(periods):
        from_redis = await collect_redis(client, network, config, period, prefix)
        prev_redis = await collect_redis(client, network, config, period.previous(), prefix)
        a = build_review(from_redis, prev_redis, network, config, salt="x")
        b = build_review(
            collect_replay(replay, period),
            collect_replay(replay, period.previous()),
            network,
            config,
            salt="x",
        )
        assert a["source"] == "redis" and b["source"] == "replay"
        assert a["totals"]["violations_total"] > 0 and a["totals"]["deliveries"] > 0
        compare(a["totals"], b["totals"], CORE[:-1], f"{period.label()} totals")
        assert [t["code"] for t in a["towns"]] == [t["code"] for t in b["towns"]]
        for ta, tb in zip(a["towns"], b["towns"], strict=True):
            compare(ta, tb, CORE, f"{period.label()} town {ta['code']}")
            if n == 0 and "villages" in ta:
                compare(ta, tb, TOWN_ONLY, f"town {ta['code']}")
        assert [c["code"] for c in a["carriers"]] == [c["code"] for c in b["carriers"]]
        for ca, cb in zip(a["carriers"], b["carriers"], strict=True):
            compare(ca, cb, CARRIER, f"{period.label()} carrier {ca['code']}")
            assert ca["parcels"] is not None  # the rollups key parcels by contract carrier
        assert a["worst_villages"] == b["worst_villages"]
        assert a["worst_couriers"] == b["worst_couriers"]
        if n == 0:
            assert a["ranking"] == b["ranking"]
        assert a["dwell_hours"] is None and b["dwell_hours"] is not None
        # contract §7: outbound produce, data quality per carrier, silent points
        assert a["outbound"]["totals"]["collected"] > 0
        assert a["outbound"] == b["outbound"], period.label()
        assert a["data_quality"]["carriers"], period.label()
        assert a["data_quality"] == b["data_quality"], period.label()
