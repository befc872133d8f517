"""Schemathesis against the served OpenAPI document: no 5xx, responses match the document.

The app runs on 127.0.0.1 on a free port in a thread of its own (its own event loop and
Redis client) over a seeded county; every operation but the never-ending SSE stream (tested
in test_api_feeds.py) is fuzzed with a carrier key and the regulator key, on random and on
real violation ids, with valid (positive) and invalid (negative) inputs.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from redis.asyncio import Redis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_api_support import World, api_config, county_events, drop_prefix

from lastmile.api.app import create_app
from lastmile.api.auth import KeyStore
from lastmile.domain.network import Network
from lastmile.settings import Settings

SKIP = {"/v1/violations/stream"}  # an open stream never ends: covered by the SSE tests
POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class LiveApi:
    base_url: str
    keys: dict[str, str]
    real_ids: dict[str, str]


@pytest.fixture(scope="module")
def live_api(redis_url: str, network: Network) -> Iterator[LiveApi]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=30)

    prefix = f"t{uuid.uuid4().hex[:12]}"
    state: dict[str, Any] = {}

    async def start() -> LiveApi:
        redis = Redis.from_url(redis_url, decode_responses=True)
        world = World(redis, prefix, network)
        await world.project(county_events())
        ks = KeyStore(redis, prefix)
        keys = {
            "ZTO": (await ks.issue("carrier", "ZTO"))[0],
            "REG": (await ks.issue("regulator"))[0],
        }
        config = api_config(rate_per_s=100_000.0, burst=100_000)
        runner = web.AppRunner(create_app(Settings(redis_prefix=prefix), redis, config))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        state.update(redis=redis, runner=runner)
        return LiveApi(
            f"http://127.0.0.1:{port}",
            keys,
            {"ZTO": sorted(world.ids("ZTO"))[0], "REG": sorted(world.ids("EMS"))[0]},
        )

    async def stop() -> None:
        await state["runner"].cleanup()
        await drop_prefix(state["redis"], prefix)
        await state["redis"].aclose()

    try:
        yield run(start())
    finally:
        run(stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def fuzz(op: Any, live: LiveApi, who: str, mode: GenerationMode, real_id: bool, n: int) -> None:
    path_parameters = None
    if real_id and "{violation_id}" in op.path:
        path_parameters = {"violation_id": live.real_ids[who]}
    strategy = op.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    headers = {"Authorization": f"Bearer {live.keys[who]}"}
    checks = POSITIVE_CHECKS if mode == GenerationMode.POSITIVE else [not_a_server_error]

    @given(case=strategy)
    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def one(case: Any) -> None:
        case.call_and_validate(base_url=live.base_url, headers=headers, checks=checks, timeout=10)

    try:
        one()
    except Unsatisfiable:
        # no invalid input exists (an operation without parameters or body)
        assert mode == GenerationMode.NEGATIVE


def test_fuzz_every_operation_without_server_errors(live_api: LiveApi) -> None:
    schema = schemathesis.openapi.from_url(f"{live_api.base_url}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert {o.path for o in operations} >= {"/v1/violations", "/v1/webhooks", "/v1/cases/summary"}
    for op in operations:
        if op.path in SKIP:
            continue
        for who in ("ZTO", "REG"):
            fuzz(op, live_api, who, GenerationMode.POSITIVE, real_id=False, n=25)
            fuzz(op, live_api, who, GenerationMode.NEGATIVE, real_id=False, n=15)
            if "{violation_id}" in op.path:
                fuzz(op, live_api, who, GenerationMode.POSITIVE, real_id=True, n=25)
