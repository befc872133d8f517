"""Per-key rate limits (429 + Retry-After, shared across app instances) and public routes."""

from __future__ import annotations

from test_api_support import World, api_config, metrics_text, serve

pytest_plugins = ["test_api_support"]


async def test_rate_limit_is_per_key_and_shared_by_replicas(world: World) -> None:
    config = api_config(rate_per_s=0.5, burst=3)
    async with serve(world, config) as a, serve(world, config) as b:
        statuses = [
            (await (a if i % 2 else b).get("/v1/violations", headers=world.auth("ZTO"))).status
            for i in range(4)
        ]
        assert statuses == [200, 200, 200, 429]  # one bucket for the key, whichever replica
        resp = await a.get("/v1/violations", headers=world.auth("ZTO"))
        assert resp.status == 429
        assert int(resp.headers["Retry-After"]) >= 1
        assert (await resp.json())["error"]["code"] == "rate_limited"
        # another key has its own bucket; unauthenticated requests are refused before it
        assert (await a.get("/v1/violations", headers=world.auth("EMS"))).status == 200
        assert (await a.get("/v1/violations")).status == 401
        metrics = metrics_text(a)
        assert 'lastmile_api_rate_limited_total{role="carrier"} 2.0' in metrics


async def test_public_routes(world: World) -> None:
    async with serve(world) as c:
        assert (await c.get("/healthz")).status == 200
        doc = await (await c.get("/openapi.json")).json()
        assert "/v1/violations" in doc["paths"]
        resp = await c.put("/v1/violations", headers=world.auth("REG"))
        assert resp.status == 405
        resp = await c.delete("/v1/cases/summary")
        assert resp.status == 405 and "GET" in resp.headers["Allow"]
        assert (await resp.json())["error"]["code"] == "method_not_allowed"
