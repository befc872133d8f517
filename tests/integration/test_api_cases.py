"""The dispute -> decision flow, the other transitions, validation errors and case counts."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient
from test_api_support import World

pytest_plugins = ["test_api_support"]


async def post(client: TestClient, world: World, who: str, vid: str, action: str, body: object):
    return await client.post(f"/v1/violations/{vid}/{action}", headers=world.auth(who), json=body)


async def test_dispute_then_decision(client: TestClient, world: World) -> None:
    vid = sorted(world.ids("EMS"))[0]
    resp = await post(client, world, "EMS", vid, "dispute", {"reason": "signed by the recipient"})
    assert resp.status == 200
    case = (await resp.json())["case"]
    assert case["state"] == "disputed"
    assert case["history"][0]["reason"] == "signed by the recipient"

    # the carrier sees the state on its list and on the item
    page = await (await client.get("/v1/violations", headers=world.auth("EMS"))).json()
    assert {v["violation_id"]: v["case"]["state"] for v in page["items"]}[vid] == "disputed"

    resp = await post(
        client, world, "REG", vid, "decision", {"outcome": "dismissed", "note": "GPS ok"}
    )
    assert resp.status == 200
    case = (await resp.json())["case"]
    assert case["state"] == "dismissed"
    assert [h["action"] for h in case["history"]] == ["dispute", "decision"]
    assert [h["role"] for h in case["history"]] == ["carrier", "regulator"]
    assert case["history"][1]["note"] == "GPS ok"

    # final: no further moves
    for who, action, body in (
        ("REG", "decision", {"outcome": "upheld", "note": "changed my mind"}),
        ("EMS", "dispute", {"reason": "again"}),
        ("EMS", "ack", None),
    ):
        resp = await post(client, world, who, vid, action, body)
        assert resp.status == 409, (who, action)
        assert (await resp.json())["error"]["code"] == "conflict"

    detail = await (await client.get(f"/v1/violations/{vid}", headers=world.auth("EMS"))).json()
    assert detail["case"]["state"] == "dismissed"


async def test_ack_is_idempotent_and_can_still_be_disputed(
    client: TestClient, world: World
) -> None:
    vid = sorted(world.ids("ZTO"))[0]
    for _ in range(2):
        resp = await post(client, world, "ZTO", vid, "ack", None)
        assert resp.status == 200
    case = (await resp.json())["case"]
    assert case["state"] == "acknowledged" and len(case["history"]) == 1
    resp = await post(client, world, "ZTO", vid, "dispute", {"reason": "on reflection, no"})
    assert (await resp.json())["case"]["state"] == "disputed"
    resp = await post(client, world, "ZTO", vid, "dispute", {"reason": "twice"})
    assert resp.status == 409
    resp = await post(client, world, "ZTO", vid, "ack", {"note": "fine"})
    assert resp.status == 409


async def test_regulator_may_decide_an_undisputed_case(client: TestClient, world: World) -> None:
    vid = sorted(world.ids("ZTO"))[1]
    resp = await post(
        client, world, "REG", vid, "decision", {"outcome": "upheld", "note": "penalty"}
    )
    assert resp.status == 200
    assert (await resp.json())["case"]["state"] == "upheld"


async def test_bodies_are_validated(client: TestClient, world: World) -> None:
    vid = sorted(world.ids("ZTO"))[2]
    bad = [
        ("ZTO", "dispute", None),
        ("ZTO", "dispute", {}),
        ("ZTO", "dispute", {"reason": "   "}),
        ("ZTO", "dispute", {"reason": 5}),
        ("ZTO", "dispute", {"reason": "x" * 1001}),
        ("ZTO", "dispute", ["reason"]),
        ("ZTO", "ack", {"note": 1}),
        ("REG", "decision", {"outcome": "upheld"}),
        ("REG", "decision", {"outcome": "maybe", "note": "n"}),
        ("REG", "decision", {"note": "n"}),
    ]
    for who, action, body in bad:
        resp = await post(client, world, who, vid, action, body)
        assert resp.status == 422, (who, action, body)
        err = (await resp.json())["error"]
        assert err["code"] == "invalid_request" and err["message"]
    resp = await client.post(
        f"/v1/violations/{vid}/dispute", headers=world.auth("ZTO"), data=b"{not json"
    )
    assert resp.status == 422
    detail = await (await client.get(f"/v1/violations/{vid}", headers=world.auth("ZTO"))).json()
    assert detail["case"] == {"state": "open", "updated_at": None, "history": []}


async def test_body_size_is_limited(client: TestClient, world: World) -> None:
    vid = sorted(world.ids("ZTO"))[0]
    resp = await client.post(
        f"/v1/violations/{vid}/dispute",
        headers={**world.auth("ZTO"), "Content-Type": "application/json"},
        data=b'{"reason": "' + b"x" * 40_000 + b'"}',
    )
    assert resp.status == 413
    assert (await resp.json())["error"]["code"] == "payload_too_large"


async def test_concurrent_moves_leave_exact_counts(client: TestClient, world: World) -> None:
    ids = sorted(world.ids("ZTO"))
    # every id: 5 racing acks and 5 racing disputes; each case ends in exactly one state
    await asyncio.gather(
        *(
            post(client, world, "ZTO", vid, action, {"reason": "r"})
            for vid in ids
            for action in ("ack", "dispute") * 5
        )
    )
    summary = await (
        await client.get("/v1/cases/summary", params={"carrier": "ZTO"}, headers=world.auth("REG"))
    ).json()
    states = summary["by_carrier"]["ZTO"]["by_state"]
    assert sum(states.values()) == len(ids) == summary["total"]
    assert states["open"] == 0 and states["disputed"] == len(ids)
    for vid in ids:
        case = (
            await (await client.get(f"/v1/violations/{vid}", headers=world.auth("ZTO"))).json()
        )["case"]
        assert [h["action"] for h in case["history"]] in (["dispute"], ["ack", "dispute"])


async def test_summary_counts_by_state(client: TestClient, world: World) -> None:
    zto, ems = sorted(world.ids("ZTO")), sorted(world.ids("EMS"))
    await post(client, world, "ZTO", zto[0], "ack", None)
    await post(client, world, "ZTO", zto[1], "dispute", {"reason": "r"})
    await post(client, world, "REG", zto[1], "decision", {"outcome": "upheld", "note": "n"})
    await post(client, world, "EMS", ems[0], "dispute", {"reason": "r"})
    resp = await client.get("/v1/cases/summary", headers=world.auth("REG"))
    s = await resp.json()
    assert s["total"] == len(world.violations)
    assert s["by_state"] == {
        "open": len(world.violations) - 3,
        "acknowledged": 1,
        "disputed": 1,
        "upheld": 1,
        "dismissed": 0,
    }
    assert s["by_carrier"]["ZTO"]["by_state"]["upheld"] == 1
    assert s["by_carrier"]["EMS"]["by_state"]["disputed"] == 1
    assert set(s["by_carrier"]) == {"ZTO", "EMS"}
