"""Violation lists (filters, keyset pagination under concurrent inserts) and SSE resume."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from test_api_support import World, api_config, serve

from builders import inbound_path, scan
from lastmile.api.feeds import ViolationQuery, page

pytest_plugins = ["test_api_support"]


async def list_all(
    client: TestClient, world: World, who: str, **params: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        q = {**params, **({"cursor": cursor} if cursor else {})}
        resp = await client.get("/v1/violations", params=q, headers=world.auth(who))
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def fee_parcels(prefix: str, minutes: list[float], carrier: str) -> list[Any]:
    ev: list[Any] = []
    for i, m in enumerate(minutes):
        pid = f"{prefix}{i}"
        ev += inbound_path(pid, carrier=carrier)
        ev.append(scan(pid, "fee_charged", m, "P-APPLE", carrier=carrier, courier="c"))
    return ev


async def test_order_and_filters(client: TestClient, world: World) -> None:
    items = await list_all(client, world, "REG", limit="4")
    keys = [(v["occurred_at"], v["violation_id"]) for v in items]
    assert len(items) == len(world.violations)
    assert [orjson.loads(orjson.dumps(k)) for k in keys] == sorted(
        ([v["occurred_at"], v["violation_id"]] for v in world.violations),
        key=lambda k: (k[0], k[1]),
    )
    fee = await list_all(client, world, "ZTO", type="extra_fee", limit="2")
    assert {v["violation_id"] for v in fee} == {
        v["violation_id"] for v in world.of("ZTO") if v["type"] == "extra_fee"
    }
    rule = await list_all(client, world, "REG", rule="wrong_village_point")
    assert rule and {v["rule"] for v in rule} == {"wrong_village_point"}
    assert {v["violation_id"] for v in rule} == {
        v["violation_id"] for v in world.violations if v["rule"] == "wrong_village_point"
    }
    town = await list_all(client, world, "EMS", town="990001101")
    assert {v["violation_id"] for v in town} == world.ids("EMS")
    assert await list_all(client, world, "EMS", town="990001102") == []
    # period: [from, to) on occurred_at; PZ0..PZ6 fees are at 19:50..19:56 local time
    period = await list_all(
        client, world, "ZTO", **{"from": "2026-11-02T19:51:00+08:00", "to": "2026-11-02T11:55:00Z"}
    )
    assert [v["parcel_id"] for v in period] == ["PZ1", "PZ2", "PZ3", "PZ4"]


async def test_bad_parameters_are_422(client: TestClient, world: World) -> None:
    for params in (
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "x"},
        {"type": "speeding"},
        {"rule": "nope"},
        {"from": "2026-11-02T08:00:00"},
        {"from": "2026-11-03T00:00:00Z", "to": "2026-11-02T00:00:00Z"},
        {"town": "a:b"},
        {"carrier": "A:B"},
    ):
        resp = await client.get("/v1/violations", params=params, headers=world.auth("REG"))
        assert resp.status == 422, params
        assert (await resp.json())["error"]["code"] == "invalid_request"
    resp = await client.get("/v1/violations?limit=1&limit=2", headers=world.auth("REG"))
    assert resp.status == 422
    resp = await client.get(
        "/v1/violations", params={"cursor": "garbage!"}, headers=world.auth("REG")
    )
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_request"


async def test_pagination_is_stable_under_concurrent_inserts(
    client: TestClient, world: World
) -> None:
    before = sorted(world.ids("ZTO"))
    resp = await client.get("/v1/violations", params={"limit": "3"}, headers=world.auth("ZTO"))
    first = await resp.json()
    # while the client pages: violations both older than its position and newer arrive
    new = await world.project(fee_parcels("PNEW", [1.0, 2.0, 5000.0, 5001.0], "ZTO"))
    seen = [v["violation_id"] for v in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        resp = await client.get(
            "/v1/violations", params={"limit": "3", "cursor": cursor}, headers=world.auth("ZTO")
        )
        body = await resp.json()
        seen += [v["violation_id"] for v in body["items"]]
        cursor = body["next_cursor"]
    assert len(seen) == len(set(seen)), "an item was repeated"
    assert set(before) <= set(seen), "an item that existed all along was skipped"
    late = {v["violation_id"] for v in new if v["occurred_at"] > first["items"][-1]["occurred_at"]}
    assert late and late <= set(seen)


async def test_partial_pages_when_the_scan_budget_runs_out(world: World) -> None:
    wanted = {v["violation_id"] for v in world.violations if v["rule"] == "far_from_address"}
    got: list[str] = []
    after = None
    pages = 0
    while True:
        items, after = await page(
            world.redis, world.prefix, ViolationQuery(rule="far_from_address"), 10, after, budget=2
        )
        got += [v["violation_id"] for v in items]
        pages += 1
        if after is None:
            break
    assert sorted(got) == sorted(wanted) and pages > len(wanted)


# -- Server-Sent Events ---------------------------------------------------------------


async def read_events(
    resp: ClientResponse, n: int, timeout: float = 5
) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    eid, data = None, None
    async with asyncio.timeout(timeout):
        while len(events) < n:
            line = (await resp.content.readline()).decode().rstrip("\n")
            if line.startswith("id: "):
                eid = line[4:]
            elif line.startswith("data: "):
                data = orjson.loads(line[6:])
            elif line == "" and eid and data:
                events.append((eid, data))
                eid, data = None, None
    return events


async def test_sse_resumes_after_a_disconnect_without_gap_or_repeat(
    client: TestClient, world: World
) -> None:
    headers = {**world.auth("ZTO"), "Last-Event-ID": "0-0"}
    resp = await client.get("/v1/violations/stream", headers=headers)
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    part1 = await read_events(resp, 4)
    resp.close()  # the client drops the connection

    # new violations for both carriers while the client is away
    added = await world.project(
        fee_parcels("PZA", [900.0, 901.0], "ZTO") + fee_parcels("PEA", [902.0], "EMS")
    )
    assert {v["carrier"] for v in added} == {"ZTO", "EMS"}
    expected = len(world.ids("ZTO"))

    resp = await client.get(
        "/v1/violations/stream", headers={**world.auth("ZTO"), "Last-Event-ID": part1[-1][0]}
    )
    part2 = await read_events(resp, expected - len(part1))
    # live: a violation projected now arrives on the open stream
    live = await world.project(fee_parcels("PZB", [950.0], "ZTO"))
    part3 = await read_events(resp, 1)
    resp.close()

    got = [v["violation_id"] for _, v in part1 + part2 + part3]
    assert len(got) == len(set(got)) == expected + 1
    assert set(got) == world.ids("ZTO")
    assert part3[0][1]["violation_id"] == live[0]["violation_id"]
    ids = [eid for eid, _ in part1 + part2 + part3]
    assert ids == sorted(ids, key=lambda e: tuple(map(int, e.split("-"))))


async def test_sse_query_resume_and_tail_start(client: TestClient, world: World) -> None:
    resp = await client.get(
        "/v1/violations/stream", params={"last_event_id": "0-0"}, headers=world.auth("EMS")
    )
    events = await read_events(resp, len(world.ids("EMS")))
    resp.close()
    assert {v["violation_id"] for _, v in events} == world.ids("EMS")

    # without an id the stream starts at the tail (fixed before the headers are sent)
    resp = await client.get("/v1/violations/stream", headers=world.auth("EMS"))
    added = await world.project(fee_parcels("PEN", [960.0], "EMS"))
    (only,) = await read_events(resp, 1)
    resp.close()
    assert only[1]["violation_id"] == added[0]["violation_id"]

    for bad in ("yesterday", "1-2-3", "99999999999999999999-0"):
        resp = await client.get(
            "/v1/violations/stream", headers={**world.auth("EMS"), "Last-Event-ID": bad}
        )
        assert resp.status == 400


async def test_sse_heartbeat_keeps_idle_streams_alive(world: World) -> None:
    async with serve(world, api_config(sse_heartbeat_s=0.1)) as c:
        resp = await c.get("/v1/violations/stream", headers=world.auth("YTO"))
        async with asyncio.timeout(3):
            lines = [(await resp.content.readline()) for _ in range(4)]
        resp.close()
    assert b": keepalive\n" in lines
