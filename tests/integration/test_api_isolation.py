"""Tenant isolation over every endpoint and method, table-driven.

Carrier ZTO must never see, acknowledge, dispute, decide or stream an EMS violation, nor
read a parcel it never scanned; regulator endpoints refuse carrier keys; carrier-only
endpoints refuse the regulator; nothing answers without a valid key.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from test_api_support import World, serve

from lastmile.api import openapi
from lastmile.api.auth import KeyStore

pytest_plugins = ["test_api_support"]


def concrete(path: str, vid: str = "V-x", pid: str = "PZ0") -> str:
    return (
        path.replace("{violation_id}", vid)
        .replace("{parcel_id}", pid)
        .replace("{carrier}", "NOBODY")
    )


PROTECTED = [(m, p) for (m, p), op in openapi.OPERATIONS.items() if op["x-lastmile-roles"]]
BODIES: dict[str, Any] = {
    "/ack": {},
    "/dispute": {"reason": "r"},
    "/decision": {"outcome": "upheld", "note": "n"},
    "/v1/webhooks": {"url": "https://hooks.example.com/x"},
}


def body_for(path: str) -> Any:
    return next((b for suffix, b in BODIES.items() if path.endswith(suffix)), None)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_every_protected_operation_needs_a_valid_key(
    client: TestClient, world: World, method: str, path: str
) -> None:
    url = concrete(path, sorted(world.ids("ZTO"))[0])
    revoked, _ = await KeyStore(world.redis, world.prefix).issue("carrier", "ZTO")
    await KeyStore(world.redis, world.prefix).revoke(revoked)
    bad_headers: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer lmk_" + "A" * 43},
        {"Authorization": world.keys["ZTO"]},
        {"Authorization": f"Basic {world.keys['ZTO']}"},
        {"Authorization": f"Bearer {revoked}"},
    ]
    for headers in bad_headers:
        resp = await client.request(method, url, headers=headers, json=body_for(path))
        assert resp.status == 401, (method, path, headers)
        assert (await resp.json())["error"]["code"] == "unauthorized"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_roles_are_enforced(client: TestClient, world: World, method: str, path: str) -> None:
    roles = openapi.roles_of(method, path)
    for who, role in (("ZTO", "carrier"), ("REG", "regulator")):
        url = concrete(path, sorted(world.ids("ZTO"))[0])
        resp = await client.request(method, url, headers=world.auth(who), json=body_for(path))
        if role in roles:
            assert resp.status != 403 or path == "/v1/violations", (who, method, path)
        else:
            assert resp.status == 403, (who, method, path, await resp.text())
            assert (await resp.json())["error"]["code"] == "forbidden"


async def test_list_shows_exactly_the_callers_violations(client: TestClient, world: World) -> None:
    for carrier in ("ZTO", "EMS", "YTO"):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            resp = await client.get("/v1/violations", params=params, headers=world.auth(carrier))
            assert resp.status == 200
            page = await resp.json()
            assert all(v["carrier"] == carrier for v in page["items"])
            seen += [v["violation_id"] for v in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen))
        assert set(seen) == world.ids(carrier)
    assert world.ids("ZTO") and world.ids("EMS") and not world.ids("YTO")


async def test_a_carrier_cannot_name_another_carrier(client: TestClient, world: World) -> None:
    for path in ("/v1/violations", "/v1/violations/stream"):
        resp = await client.get(path, params={"carrier": "EMS"}, headers=world.auth("ZTO"))
        assert resp.status == 403


FOREIGN_ACTIONS = [
    ("GET", "/v1/violations/{violation_id}", None),
    ("POST", "/v1/violations/{violation_id}/ack", {}),
    ("POST", "/v1/violations/{violation_id}/ack", None),
    ("POST", "/v1/violations/{violation_id}/dispute", {"reason": "not ours"}),
    ("POST", "/v1/violations/{violation_id}/dispute", {}),  # 404 wins over 422: no existence leak
]


@pytest.mark.parametrize(("method", "path", "body"), FOREIGN_ACTIONS)
async def test_foreign_violation_ids_look_unknown(
    client: TestClient, world: World, method: str, path: str, body: Any
) -> None:
    foreign = sorted(world.ids("EMS"))[0]
    resp = await client.request(
        method, concrete(path, foreign), headers=world.auth("ZTO"), json=body
    )
    unknown = await client.request(
        method, concrete(path, "V-nope"), headers=world.auth("ZTO"), json=body
    )
    assert resp.status == unknown.status == 404
    assert await resp.json() == await unknown.json()
    case = await client.get(f"/v1/violations/{foreign}", headers=world.auth("REG"))
    assert (await case.json())["case"] == {"state": "open", "updated_at": None, "history": []}


async def test_own_violation_is_readable(client: TestClient, world: World) -> None:
    own = sorted(world.ids("ZTO"))[0]
    resp = await client.get(f"/v1/violations/{own}", headers=world.auth("ZTO"))
    assert resp.status == 200
    assert (await resp.json())["violation_id"] == own


async def test_parcel_timelines_only_for_parcels_the_carrier_scanned(
    client: TestClient, world: World
) -> None:
    # PE0 was scanned by EMS only: ZTO gets the same 404 as for an unknown parcel
    for pid in ("PE0", "NOPE"):
        resp = await client.get(f"/v1/parcels/{pid}", headers=world.auth("ZTO"))
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "not_found"
    # PH: ZTO scanned it (then handed it to EMS); the EMS violation on it stays hidden from ZTO
    zto = await (await client.get("/v1/parcels/PH", headers=world.auth("ZTO"))).json()
    ems = await (await client.get("/v1/parcels/PH", headers=world.auth("EMS"))).json()
    reg = await (await client.get("/v1/parcels/PH", headers=world.auth("REG"))).json()
    assert zto["carriers"] == ["EMS", "ZTO"]
    assert zto["violations"] == []
    assert [v["carrier"] for v in ems["violations"]] == ["EMS"]
    assert ems["violations"] == reg["violations"]
    resp = await client.get("/v1/parcels/PZ0", headers=world.auth("EMS"))
    assert resp.status == 404


async def test_stream_carries_only_the_callers_violations(client: TestClient, world: World) -> None:
    expected = len(world.ids("ZTO"))
    resp = await client.get(
        "/v1/violations/stream", headers={**world.auth("ZTO"), "Last-Event-ID": "0-0"}
    )
    assert resp.status == 200
    ids: list[str] = []
    try:
        async with asyncio.timeout(5):
            while len(ids) < expected:
                line = (await resp.content.readline()).decode()
                if line.startswith("data: "):
                    ids.append(orjson.loads(line[6:])["violation_id"])
    finally:
        resp.close()
    assert set(ids) == world.ids("ZTO") and len(ids) == expected


async def test_regulator_sees_every_carrier_and_can_filter(
    client: TestClient, world: World
) -> None:
    resp = await client.get("/v1/violations", params={"limit": "500"}, headers=world.auth("REG"))
    assert {v["violation_id"] for v in (await resp.json())["items"]} == {
        v["violation_id"] for v in world.violations
    }
    resp = await client.get("/v1/violations", params={"carrier": "EMS"}, headers=world.auth("REG"))
    assert {v["violation_id"] for v in (await resp.json())["items"]} == world.ids("EMS")


async def test_webhooks_are_per_carrier(world: World) -> None:
    async with serve(world) as c:
        resp = await c.post(
            "/v1/webhooks", json={"url": "https://z.example.com/h"}, headers=world.auth("ZTO")
        )
        assert resp.status == 201
        ems = await c.get("/v1/webhooks", headers=world.auth("EMS"))
        assert ems.status == 404
        zto = await (await c.get("/v1/webhooks", headers=world.auth("ZTO"))).json()
        assert zto["url"] == "https://z.example.com/h" and "secret" not in zto
        assert (await c.delete("/v1/webhooks", headers=world.auth("EMS"))).status == 404
        assert (await c.get("/v1/webhooks", headers=world.auth("ZTO"))).status == 200
