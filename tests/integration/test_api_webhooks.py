"""Webhooks end to end: a real aiohttp receiver on 127.0.0.1 verifies every signed delivery.

The receiver fails the first attempts, so retries with backoff, the delivery log, the
status endpoint and the metrics are all exercised; then the API is stopped while the
receiver is down and a new one started: nothing is lost (the cursor lives in Redis).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks import Webhook, WebhookVerificationError
from test_api_support import World, api_config, metrics_text, serve

from builders import inbound_path, scan
from lastmile.api.auth import KeyStore
from lastmile.api.signing import verify_signature

pytest_plugins = ["test_api_support"]

FAST = {
    "run_dispatcher": True,
    "allow_insecure_webhooks": True,
    "webhook_poll_s": 0.05,
    "webhook_backoff_base_s": 0.05,
    "webhook_backoff_max_s": 0.2,
    "webhook_timeout_s": 2.0,
}


@dataclass
class Receiver:
    secret: str = ""
    fail_next: int = 0  # answer 500 to this many requests
    down: bool = False  # answer 503 to everything
    verified: dict[str, dict[str, Any]] = field(default_factory=dict)  # delivery id -> body
    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    rejected: int = 0
    duplicates: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        self.raw.append((headers, body))
        try:  # the receiver verifies with the off-the-shelf Standard Webhooks library
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.rejected += 1
            return web.Response(status=401)
        if self.down:
            return web.Response(status=503)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=500)
        doc = orjson.loads(body)
        assert doc["delivery_id"] == headers["webhook-id"] == headers["X-Lastmile-Delivery"]
        if doc["delivery_id"] in self.verified:  # at-least-once: the receiver dedups
            self.duplicates += 1
        self.verified[doc["delivery_id"]] = doc
        return web.Response(status=204)

    def violation_ids(self) -> set[str]:
        return {d["violation"]["violation_id"] for d in self.verified.values()}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    rec.url = str(server.make_url("/hook"))
    yield rec
    await server.close()


async def until(cond: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.02)


async def test_signed_deliveries_with_retries_log_and_metrics(
    world: World, receiver: Receiver
) -> None:
    async with serve(world, api_config(**FAST)) as client:
        resp = await client.post(
            "/v1/webhooks", json={"url": receiver.url, "replay": True}, headers=world.auth("ZTO")
        )
        assert resp.status == 201
        reg = await resp.json()
        assert reg["secret"].startswith("whsec_") and reg["url"] == receiver.url
        receiver.secret = reg["secret"]
        receiver.fail_next = 2
        await until(lambda: receiver.violation_ids() == world.ids("ZTO"))

        # a new violation is pushed too
        added = await world.project(
            [
                *inbound_path("PW1", carrier="ZTO"),
                scan("PW1", "fee_charged", 999, "P-APPLE", carrier="ZTO", courier="c"),
            ]
        )
        await until(lambda: added[0]["violation_id"] in receiver.violation_ids())

        assert receiver.rejected == 0
        assert all(d["violation"]["carrier"] == "ZTO" for d in receiver.verified.values())
        log = await (
            await client.get(
                "/v1/webhooks/deliveries", params={"limit": "500"}, headers=world.auth("ZTO")
            )
        ).json()
        outcomes = [(e["outcome"], e["attempt"], e["status_code"]) for e in log["items"]]
        assert outcomes.count(("failed", 1, 500)) == 1 and outcomes.count(("failed", 2, 500)) == 1
        assert sum(1 for o in outcomes if o[0] == "delivered") == len(world.ids("ZTO"))
        failed = await (
            await client.get(
                "/v1/webhooks/deliveries", params={"outcome": "failed"}, headers=world.auth("ZTO")
            )
        ).json()
        assert len(failed["items"]) == 2 and all(e["next_retry_at"] for e in failed["items"])
        status = await (await client.get("/v1/webhooks", headers=world.auth("ZTO"))).json()
        assert status["status"] == "ok" and status["last_success_at"]

        metrics = metrics_text(client)
        assert 'lastmile_webhook_deliveries_total{carrier="ZTO",outcome="failed"} 2.0' in metrics
        assert (
            f'lastmile_webhook_deliveries_total{{carrier="ZTO",outcome="delivered"}} '
            f"{float(len(world.ids('ZTO')))}" in metrics
        )

    # from the receiver's side: a captured delivery replayed later, or altered, is refused
    headers, body = receiver.raw[-1]
    assert Webhook(receiver.secret).verify(body, headers)["delivery_id"] == headers["webhook-id"]
    late = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 301)}
    with pytest.raises(WebhookVerificationError):
        Webhook(receiver.secret).verify(body, late)
    # the deprecated headers, still sent for this release, verify too
    ts, sig = headers["X-Lastmile-Timestamp"], headers["X-Lastmile-Signature"]
    assert verify_signature(receiver.secret, ts, body, sig)
    assert not verify_signature(receiver.secret, ts, body, sig, now=int(ts) + 301)
    assert not verify_signature(receiver.secret, ts, body.replace(b"ZTO", b"EMS"), sig)


async def test_nothing_is_lost_across_an_outage_and_a_restart(
    world: World, receiver: Receiver
) -> None:
    async with serve(world, api_config(**FAST)) as client:
        resp = await client.post(
            "/v1/webhooks", json={"url": receiver.url}, headers=world.auth("EMS")
        )
        receiver.secret = (await resp.json())["secret"]
        receiver.down = True
        added = await world.project(
            [
                *inbound_path("PO1", carrier="EMS"),
                scan("PO1", "fee_charged", 999, "P-APPLE", carrier="EMS", courier="c"),
            ]
        )
        await until(lambda: len(receiver.raw) >= 3)  # retried while the endpoint is down
        status = await (await client.get("/v1/webhooks", headers=world.auth("EMS"))).json()
        assert status["status"] == "retrying" and status["attempts"] >= 2
        assert status["last_error"] == "HTTP 503" and status["pending_delivery"]
    # the API (and its dispatcher) stops; the endpoint comes back; a new API process starts
    receiver.down = False
    async with serve(world, api_config(**FAST)):
        await until(lambda: receiver.violation_ids() == {added[0]["violation_id"]})
    # registered without replay: only violations after the registration were sent
    assert receiver.violation_ids() == {added[0]["violation_id"]}


async def test_registration_rules(world: World) -> None:
    async with serve(world) as client:  # the default: no insecure loopback URLs
        for body in (
            {"url": "http://127.0.0.1:9/x"},
            {"url": "https://10.0.0.1/x"},
            {},
            {"url": "https://a.example.com/x", "replay": "yes"},
        ):
            resp = await client.post("/v1/webhooks", json=body, headers=world.auth("ZTO"))
            assert resp.status == 422, body
        assert (await client.get("/v1/webhooks", headers=world.auth("ZTO"))).status == 404
        first = await (
            await client.post(
                "/v1/webhooks", json={"url": "https://a.example.com/x"}, headers=world.auth("ZTO")
            )
        ).json()
        second = await (
            await client.post(
                "/v1/webhooks", json={"url": "https://b.example.com/x"}, headers=world.auth("ZTO")
            )
        ).json()
        assert first["secret"] != second["secret"]
        status = await (await client.get("/v1/webhooks", headers=world.auth("ZTO"))).json()
        assert status["url"] == "https://b.example.com/x" and "secret" not in status
        assert (await client.delete("/v1/webhooks", headers=world.auth("ZTO"))).status == 204
        assert (await client.get("/v1/webhooks", headers=world.auth("ZTO"))).status == 404
        resp = await client.get(
            "/v1/webhooks/deliveries", params={"cursor": "x"}, headers=world.auth("ZTO")
        )
        assert resp.status == 400


async def test_no_deliveries_for_a_carrier_without_a_live_key(
    world: World, receiver: Receiver
) -> None:
    ks = KeyStore(world.redis, world.prefix)
    async with serve(world, api_config(**FAST)) as client:
        resp = await client.post(
            "/v1/webhooks", json={"url": receiver.url, "replay": False}, headers=world.auth("ZTO")
        )
        receiver.secret = (await resp.json())["secret"]
        for rec in await ks.list():  # revoke every ZTO key
            if rec["carrier"] == "ZTO":
                await ks.revoke(rec["id"])
        await asyncio.sleep(0.3)
        added = await world.project(
            [
                *inbound_path("PRV", carrier="ZTO"),
                scan("PRV", "fee_charged", 999, "P-APPLE", carrier="ZTO", courier="c"),
            ]
        )
        await asyncio.sleep(1.0)
        assert added[0]["violation_id"] not in receiver.violation_ids()
        state = await world.redis.hget(f"{world.prefix}:api:wh:state:ZTO", "status")
        assert state == "suspended"
        # a new key for the carrier resumes deliveries where they stopped: nothing is lost
        await ks.issue("carrier", "ZTO")
        await until(lambda: added[0]["violation_id"] in receiver.violation_ids())


async def test_the_regulator_lists_and_removes_any_carriers_webhook(
    world: World, receiver: Receiver
) -> None:
    async with serve(world, api_config(**FAST)) as client:
        for who in ("ZTO", "EMS"):
            resp = await client.post(
                "/v1/webhooks", json={"url": receiver.url}, headers=world.auth(who)
            )
            assert resp.status == 201
        listed = await (await client.get("/v1/admin/webhooks", headers=world.auth("REG"))).json()
        assert [i["carrier"] for i in listed["items"]] == ["EMS", "ZTO"]
        assert all("secret" not in i for i in listed["items"])
        assert (await client.get("/v1/admin/webhooks", headers=world.auth("ZTO"))).status == 403
        resp = await client.delete("/v1/admin/webhooks/ZTO", headers=world.auth("ZTO"))
        assert resp.status == 403
        resp = await client.delete("/v1/admin/webhooks/ZTO", headers=world.auth("REG"))
        assert resp.status == 204
        assert (await client.get("/v1/webhooks", headers=world.auth("ZTO"))).status == 404
        resp = await client.delete("/v1/admin/webhooks/ZTO", headers=world.auth("REG"))
        assert resp.status == 404
        listed = await (await client.get("/v1/admin/webhooks", headers=world.auth("REG"))).json()
        assert [i["carrier"] for i in listed["items"]] == ["EMS"]
