"""The API under abuse and outages: Redis down or frozen (503, then recovery), odd stream
ids and cursors (4xx, never 5xx), caps on open SSE streams (429), revocation of open
streams, hardened headers and /metrics off the API's port.

Redis is reached through a small TCP proxy in this test, which can refuse connections
("down") or accept and never answer ("frozen"), so the real Redis is never disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest
from aiohttp.test_utils import TestClient, TestServer
from test_api_support import World, api_config, serve

from lastmile.api.app import create_app, create_metrics_app
from lastmile.api.auth import KeyStore
from lastmile.io.redis_client import connect
from lastmile.settings import Settings

pytest_plugins = ["test_api_support"]


class RedisProxy:
    """127.0.0.1:<port> -> the real Redis; `mode` is "up", "down" (refuse) or "frozen"."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "up"
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await r.read(65536):
                while self.mode == "frozen":
                    await asyncio.sleep(0.05)
                w.write(data)
                await w.drain()
        with contextlib.suppress(Exception):
            w.close()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if self.mode == "down":
            w.close()
            return
        ur, uw = await asyncio.open_connection(*self.target)
        self._conns |= {w, uw}
        await asyncio.gather(self._pipe(r, uw), self._pipe(ur, w))

    def cut(self) -> None:
        """Redis goes away: existing connections drop, new ones are refused."""
        self.mode = "down"
        for w in self._conns:
            with contextlib.suppress(Exception):
                w.close()
        self._conns.clear()

    async def stop(self) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1)


@pytest.fixture
async def proxied(world: World, redis_url: str) -> AsyncIterator[tuple[RedisProxy, TestClient]]:
    u = urlparse(redis_url)
    proxy = RedisProxy(u.hostname or "127.0.0.1", u.port or 6379)
    await proxy.start()
    redis = connect(
        f"redis://127.0.0.1:{proxy.port}{u.path or '/0'}", max_connections=8, timeout_s=1.0
    )
    app = create_app(Settings(redis_prefix=world.prefix), redis, api_config())
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield proxy, client
    finally:
        await proxy.stop()
        await redis.aclose()


async def test_redis_down_gives_503_with_retry_after_and_recovers(
    world: World, proxied: tuple[RedisProxy, TestClient]
) -> None:
    proxy, client = proxied
    assert (await client.get("/v1/violations", headers=world.auth("ZTO"))).status == 200
    proxy.cut()
    for path, who in (("/v1/violations", "ZTO"), ("/v1/cases/summary", "REG"), ("/healthz", "")):
        resp = await client.get(path, headers=world.auth(who) if who else {})
        assert resp.status == 503, path
        assert int(resp.headers["Retry-After"]) >= 1
        body = await resp.read()
        assert b"\n" not in body.strip()
        assert (await resp.json())["error"]["code"] == "unavailable"
    proxy.mode = "up"  # Redis is back: no restart of the API needed
    deadline = time.monotonic() + 10
    while (await client.get("/v1/violations", headers=world.auth("ZTO"))).status != 200:
        assert time.monotonic() < deadline, "the API did not recover"
        await asyncio.sleep(0.2)


async def test_frozen_redis_answers_503_within_the_timeout(
    world: World, proxied: tuple[RedisProxy, TestClient]
) -> None:
    proxy, client = proxied
    assert (await client.get("/v1/violations", headers=world.auth("EMS"))).status == 200
    proxy.mode = "frozen"
    started = time.monotonic()
    resp = await client.get("/v1/violations", headers=world.auth("EMS"))
    assert resp.status == 503
    assert time.monotonic() - started < 5  # timeout 1 s (+ pool wait), never a hang


ODD_IDS = [
    "١-٠",  # Arabic-Indic digits
    "１-0",  # full-width digit
    "1-0\n",
    "1-0 ",
    " 1-0",
    "+1-0",
    "1_0-0",
    "0x1-0",
    "-1-0",
    "1--0",
    "1-",
    "-",
    "99999999999999999999-0",
    "123456789012345678901-0",
    "1-0\x00",
]


async def test_odd_stream_ids_and_cursors_get_4xx_never_5xx(
    client: TestClient, world: World
) -> None:
    for bad in ODD_IDS:
        for params in ({"last_event_id": bad},):
            resp = await client.get(
                "/v1/violations/stream", params=params, headers=world.auth("ZTO")
            )
            assert resp.status == 400, (bad, resp.status)
            resp.close()
        resp = await client.get(
            "/v1/webhooks/deliveries", params={"cursor": bad}, headers=world.auth("ZTO")
        )
        assert resp.status == 400, bad
        resp = await client.get("/v1/violations", params={"cursor": bad}, headers=world.auth("ZTO"))
        assert resp.status == 400, bad
    for header_safe in ("١-٠", "１-0", "1-0 x", "0x1-0"):
        resp = await client.get(
            "/v1/violations/stream",
            headers={**world.auth("ZTO"), "Last-Event-ID": header_safe},
        )
        assert resp.status == 400, header_safe
    for limit in ("١", "１0", " 5", "1_0", "+5", "5\n", "0", "501"):
        resp = await client.get(
            "/v1/violations", params={"limit": limit}, headers=world.auth("ZTO")
        )
        assert resp.status == 422, limit


async def test_open_streams_are_capped_per_key_and_per_process(world: World) -> None:
    config = api_config(sse_max_per_key=2, sse_max_streams=3, sse_heartbeat_s=0.2)
    async with serve(world, config) as c:
        opened = []
        for _ in range(2):
            resp = await c.get("/v1/violations/stream", headers=world.auth("ZTO"))
            assert resp.status == 200
            opened.append(resp)
        over = await c.get("/v1/violations/stream", headers=world.auth("ZTO"))
        assert over.status == 429 and int(over.headers["Retry-After"]) >= 1
        assert (await over.json())["error"]["code"] == "too_many_streams"
        ems = await c.get("/v1/violations/stream", headers=world.auth("EMS"))
        assert ems.status == 200  # another key still gets a stream ...
        opened.append(ems)
        full = await c.get("/v1/violations/stream", headers=world.auth("YTO"))
        assert full.status == 429  # ... until the process cap
        # every other request is still served while the streams are open
        assert (await c.get("/v1/violations", headers=world.auth("YTO"))).status == 200
        opened.pop(0).close()
        await asyncio.sleep(0.3)
        again = await c.get("/v1/violations/stream", headers=world.auth("ZTO"))
        assert again.status == 200  # a closed stream frees its slot
        opened.append(again)
        for r in opened:
            r.close()


async def test_hundreds_of_streams_from_one_key_leave_other_tenants_served(
    world: World,
) -> None:
    async with serve(world, api_config()) as c:
        results = await asyncio.gather(
            *(c.get("/v1/violations/stream", headers=world.auth("ZTO")) for _ in range(300))
        )
        statuses = [r.status for r in results]
        assert statuses.count(200) == 5 and statuses.count(429) == 295
        started = time.monotonic()
        other = await c.get("/v1/violations", headers=world.auth("EMS"))
        assert other.status == 200 and time.monotonic() - started < 2
        stream = await c.get("/v1/violations/stream", headers=world.auth("EMS"))
        assert stream.status == 200
        stream.close()
        for r in results:
            r.close()


async def test_a_revoked_keys_open_stream_closes_within_seconds(world: World) -> None:
    async with serve(world, api_config(sse_revalidate_s=0.5, sse_heartbeat_s=0.2)) as c:
        key, rec = await KeyStore(world.redis, world.prefix).issue("carrier", "ZTO")
        resp = await c.get("/v1/violations/stream", headers={"Authorization": f"Bearer {key}"})
        assert resp.status == 200
        await KeyStore(world.redis, world.prefix).revoke(rec["id"])
        started = time.monotonic()
        body = b""
        async with asyncio.timeout(5):
            while chunk := await resp.content.readany():
                body += chunk
        assert time.monotonic() - started < 3
        assert b"event: error" in body and b"revoked" in body
        again = await c.get("/v1/violations/stream", headers={"Authorization": f"Bearer {key}"})
        assert again.status == 401


async def test_answers_carry_hardened_headers(client: TestClient, world: World) -> None:
    for path, headers in (("/v1/violations", world.auth("ZTO")), ("/nowhere", {})):
        resp = await client.get(path, headers=headers)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Server"] == "lastmile"  # no versions


async def test_metrics_are_not_served_on_the_api_port(client: TestClient, world: World) -> None:
    assert (await client.get("/metrics")).status == 404
    metrics_app = create_metrics_app(client.server.app)  # type: ignore[arg-type]
    async with TestClient(TestServer(metrics_app, host="127.0.0.1")) as m:
        resp = await m.get("/metrics")
        assert resp.status == 200
        assert "lastmile_api_requests_total" in await resp.text()
