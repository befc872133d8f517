"""The worker's batch handlers without a broker.

Kafka outputs, the violation log and Redis are stood in for by fakes that record what the
handlers send, and batches are plain messages as Faust's consumer delivers them, so these
tests show the worker's own wiring: decode, dead-letter, fold, gate.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
import pytest_asyncio

from builders import T0, TINY_NETWORK
from lastmile.domain.network import parse_network
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.memory import MemoryGate, MemoryHolds, MemoryReadModel
from lastmile.settings import Settings
from lastmile.worker.app import create_worker


@dataclass
class Message:
    """What the worker reads of a consumed Kafka message."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


@dataclass
class FakeBatch:
    records: list[dict[str, Any]] = field(default_factory=list)

    def append(self, *, key: Any, value: Any, timestamp: Any, headers: Any) -> object:
        self.records.append({"key": key, "value": value, "headers": headers})
        return object()


@dataclass
class FakeProducer:
    """aiokafka's batch API as the outbox uses it; the broker "acknowledges" at once."""

    sent: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # topic → records
    batches: int = 0

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2, 3}

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        self.batches += 1
        self.sent.setdefault(topic, []).extend(batch.records)
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


def scan(eid: str, pid: str, type_: str, minutes: float, node: str, **extra: Any) -> bytes:
    msg = {
        "event_id": eid,
        "parcel_id": pid,
        "carrier": "ZTO",
        "type": type_,
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "node_id": node,
        **extra,
    }
    return orjson.dumps(msg)


@pytest_asyncio.fixture
async def worker() -> Any:
    settings = Settings(
        store="memory://",
        app_id="agent-test",
        kafka_bootstrap="127.0.0.1:1",
        redis_url="redis://127.0.0.1:1/0",
        web_port=16999,
    )
    w = create_worker(settings, parse_network(TINY_NETWORK), RuleConfig())
    w.app.loop = asyncio.get_running_loop()
    w.app.finalize()
    w.app.flow_control.resume()
    w.ports.gate = MemoryGate()
    w.ports.holds = MemoryHolds()
    w.ports.read_model = MemoryReadModel()
    w.producer = FakeProducer()
    w.ports.outbox.producer = lambda: w.producer  # type: ignore[attr-defined]
    w.ready.set()
    return w


async def test_parcels_handler_folds_dead_letters_and_publishes_each_violation_once(worker):
    t = worker.topics
    for offset, raw in enumerate(
        (
            scan("E1", "P1", "arrived", 0, "C-1", destination={"village": "990001101001"}),
            scan(
                "E2", "P1", "delivered", 600, "T-E", signoff={"method": "station"}, courier_id="K-1"
            ),
            b"{not json",
            scan(
                "E2", "P1", "delivered", 600, "T-E", signoff={"method": "station"}, courier_id="K-1"
            ),
        )
    ):  # one message per batch, as a live stream may deliver them
        await worker.handle_parcels([Message(t.scans, 0, offset, b"P1", raw)])
    sent = worker.producer.sent
    violations = [orjson.loads(m["value"]) for m in sent[t.violations]]
    assert [(v["rule"], v["carrier"]) for v in violations] == [("left_at_town_or_county", "ZTO")]
    (dead,) = sent[t.dlq(t.scans)]
    assert dead["value"] == b"{not json"
    assert dict(dead["headers"])["lastmile-reason"] == b"invalid_json"
    signoffs = sent[t.signoffs]
    assert {m["key"] for m in signoffs} == {b"K-1"}
    assert worker.ports.read_model.batches, "the read models learnt from the batch"


async def test_couriers_handler_flags_a_burst_over_three_villages_once_per_parcel(worker):
    from lastmile.domain.bulk import Signoff
    from lastmile.io.codec import encode_signoffs
    from lastmile.pipeline.records import SignoffRecord

    villages = ["990001101001", "990001101002", "990001101003"]
    for offset, i in enumerate([*range(10), 3]):  # the fourth sign-off arrives twice
        at = T0 + timedelta(seconds=5 * i)
        s = Signoff(at.timestamp(), f"S{i}", "K-7", f"B{i}", villages[i % 3], "YTO", at)
        record = SignoffRecord(s, "990001101", False, "YTO")
        message = Message(worker.topics.signoffs, 0, offset, b"K-7", encode_signoffs([record]))
        await worker.handle_couriers([message])
    violations = [orjson.loads(m["value"]) for m in worker.producer.sent[worker.topics.violations]]
    assert sorted(v["parcel_id"] for v in violations) == sorted(f"B{i}" for i in range(10))
    assert {v["rule"] for v in violations} == {"bulk_signoff"}
    assert all(v["detail"]["burst_size"] >= 10 for v in violations)
