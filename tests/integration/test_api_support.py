"""Shared fixtures of the API integration tests (no tests here): a seeded county in Redis.

Each test gets its own key prefix ``t<uuid>`` (deleted afterwards), violations written by
the worker's own projector, parcel timelines built by the worker's own timeline function,
and keys for two carriers and the regulator.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest
from redis.asyncio import Redis

from builders import APPLE, BIRCH, inbound_path, scan
from lastmile.api.app import create_app
from lastmile.api.auth import KeyStore
from lastmile.api.config import ApiConfig
from lastmile.api.context import CTX
from lastmile.domain.engine import Detection
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.effects import ReadModelWrites
from lastmile.readmodel.keys import Keys
from lastmile.readmodel.writer import ReadModelWriter
from lastmile.settings import Settings

DETECTED = datetime(2026, 11, 3, tzinfo=UTC)


def county_events() -> list[Any]:
    """ZTO and EMS parcels; PH is handed over ZTO -> EMS, so ZTO scanned it but EMS is liable."""
    ev: list[Any] = []
    for i in range(7):  # ZTO: surcharges, one parcel a few minutes apart
        pid = f"PZ{i}"
        ev += inbound_path(pid, carrier="ZTO")
        ev.append(scan(pid, "fee_charged", 710 + i, "P-APPLE", carrier="ZTO", courier="c-z1"))
    ev += inbound_path("PZL", carrier="ZTO")  # left at the town centre: two wrong_address rules
    ev.append(scan("PZL", "delivered", 720, "T-E", carrier="ZTO", courier="c-z2"))
    for i in range(4):  # EMS: delivered to the wrong village point
        pid = f"PE{i}"
        ev += inbound_path(pid, carrier="EMS")
        ev.append(scan(pid, "delivered", 730 + i, "P-BIRCH", carrier="EMS", courier="c-e1"))
    ev += [
        scan("PH", "arrived", 0, "C-1", carrier="ZTO", dest=APPLE),
        scan("PH", "handover", 30, "C-1", carrier="ZTO", to_carrier="EMS"),
        scan("PH", "arrived", 180, "T-E", carrier="EMS"),
        scan("PH", "fee_charged", 740, "P-APPLE", carrier="EMS", courier="c-e2"),
    ]
    ev += inbound_path("PCLEAN", BIRCH, "P-BIRCH", carrier="ZTO")  # no violation
    return ev


@dataclass
class World:
    redis: Redis
    prefix: str
    network: Network
    keys: dict[str, str] = field(default_factory=dict)  # ZTO, EMS, REG, YTO -> bearer key
    violations: list[dict[str, Any]] = field(default_factory=list)

    def ids(self, carrier: str) -> set[str]:
        return {v["violation_id"] for v in self.violations if v["carrier"] == carrier}

    def of(self, carrier: str) -> list[dict[str, Any]]:
        return [v for v in self.violations if v["carrier"] == carrier]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def project(self, events: list[Any]) -> list[dict[str, Any]]:
        """Detect, then write violations and timelines the way the worker does."""
        d = Detection(self.network, RuleConfig())
        d.add_all(events)
        analyses = d.analyses()
        found = d.violations(DETECTED, analyses)
        writer = ReadModelWriter(self.redis, Keys(self.prefix))
        await writer.violations(found)
        await writer.write(ReadModelWrites(paths={a.path.parcel_id: a.path for a in analyses}))
        self.violations += found
        return found


async def drop_prefix(redis: Redis, prefix: str) -> None:
    keys = [k for m in Keys(prefix).patterns() async for k in redis.scan_iter(m, count=1000)]
    for i in range(0, len(keys), 500):
        await redis.delete(*keys[i : i + 500])


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    r = Redis.from_url(redis_url, decode_responses=True)
    yield r
    await r.aclose()


@pytest.fixture
async def world(redis: Redis, network: Network) -> AsyncIterator[World]:
    w = World(redis, f"t{uuid.uuid4().hex[:12]}", network)
    try:
        await w.project(county_events())
        ks = KeyStore(redis, w.prefix)
        for carrier in ("ZTO", "EMS", "YTO"):
            w.keys[carrier], _ = await ks.issue("carrier", carrier)
        w.keys["REG"], _ = await ks.issue("regulator")
        yield w
    finally:
        await drop_prefix(redis, w.prefix)


def api_config(**kw: Any) -> ApiConfig:
    base: dict[str, Any] = {"run_dispatcher": False, "rate_per_s": 1000.0, "burst": 1000}
    return ApiConfig(**{**base, **kw})


@contextlib.asynccontextmanager
async def serve(world: World, config: ApiConfig | None = None) -> AsyncIterator[TestClient]:
    app = create_app(
        Settings(redis_prefix=world.prefix),
        world.redis,
        config or api_config(),
        network=world.network,
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.fixture
async def client(world: World) -> AsyncIterator[TestClient]:
    async with serve(world) as c:
        yield c


def metrics_text(client: TestClient) -> str:
    """The API's metrics (served on their own internal port, not by `client`'s app)."""
    app = client.server.app
    assert app is not None
    return generate_latest(app[CTX].metrics.registry).decode()
