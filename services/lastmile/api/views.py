"""Handlers of the violation, case and parcel endpoints."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import orjson
from aiohttp import web

from lastmile.api.auth import CARRIER_RE, Principal
from lastmile.api.bodies import (
    AckRequest,
    BodyRefused,
    DecisionRequest,
    DisputeRequest,
    decode_request,
)
from lastmile.api.cases import ACK, DECIDE, DISPUTE, Action, TransitionRefused
from lastmile.api.context import ctx, principal
from lastmile.api.errors import conflict, forbidden, invalid, json_response, not_found
from lastmile.api.feeds import ViolationQuery, page
from lastmile.api.openapi import RULE_NAMES, TYPES
from lastmile.api.pagination import encode_cursor, one, parse_cursor, parse_limit, parse_time
from lastmile.domain.engine import analyse_parcel
from lastmile.domain.timeline import timeline
from lastmile.readmodel.keys import Keys

R = TypeVar("R")
TOWN_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def carrier_param(request: web.Request) -> str | None:
    value = one(request.query, "carrier", 16)
    if value is not None and not CARRIER_RE.fullmatch(value):
        raise invalid("carrier must be 1-16 letters, digits, '_', '.' or '-'")
    return value


def carrier_scope(request: web.Request, who: Principal) -> str | None:
    """The carrier a request is confined to: the key's own, or the regulator's optional filter."""
    asked = carrier_param(request)
    if who.is_regulator:
        return asked
    if asked is not None and asked != who.carrier:
        raise forbidden("a carrier key can only read its own violations")
    return who.carrier


async def list_violations(request: web.Request) -> web.Response:
    who = principal(request)
    q = request.query
    vtype, rule = one(q, "type"), one(q, "rule")
    if vtype is not None and vtype not in TYPES:
        raise invalid(f"type must be one of {', '.join(TYPES)}")
    if rule is not None and rule not in RULE_NAMES:
        raise invalid(f"rule must be one of {', '.join(RULE_NAMES)}")
    start, end = parse_time("from", one(q, "from")), parse_time("to", one(q, "to"))
    if start is not None and end is not None and start > end:
        raise invalid("from must not be after to")
    town = one(q, "town", 32)
    if town is not None and not TOWN_RE.fullmatch(town):
        raise invalid("town must be a town code")
    query = ViolationQuery(carrier_scope(request, who), vtype, rule, town, start, end)
    limit = parse_limit(one(q, "limit"))
    after = parse_cursor(one(q, "cursor", 512))
    c = ctx(request)
    items, last = await page(c.redis, c.p, query, limit, after)
    for item, case in zip(
        items, await c.cases.states([i["violation_id"] for i in items]), strict=True
    ):
        item["case"] = case
    return json_response(
        {"items": items, "next_cursor": None if last is None else encode_cursor(last)}
    )


async def visible_violation(request: web.Request, vid: str) -> dict[str, Any]:
    """The violation if this key may see it; 404 alike for unknown and foreign ids."""
    if len(vid) > 128:
        raise not_found("violation")
    c = ctx(request)
    raw = await c.redis.hget(Keys(c.p).violation_docs, vid)  # type: ignore[misc]
    if raw is None:
        raise not_found("violation")
    doc: dict[str, Any] = orjson.loads(raw)
    who = principal(request)
    if not who.is_regulator and doc.get("carrier") != who.carrier:
        raise not_found("violation")
    return doc


async def get_violation(request: web.Request) -> web.Response:
    vid = request.match_info["violation_id"]
    doc = await visible_violation(request, vid)
    doc["case"] = await ctx(request).cases.case(vid)
    return json_response(doc)


async def read_body(request: web.Request, kind: type[R], required: bool) -> R:
    """The body (size already capped by the app) decoded with its definition
    (lastmile.api.bodies); 422 naming the field when the definition refuses it."""
    raw = await request.read()
    if required and not raw.strip():
        raise invalid("a JSON object body is required")
    try:
        return decode_request(kind, raw)
    except BodyRefused as exc:
        raise invalid(str(exc)) from None


async def _move(
    request: web.Request, action: Action, to: str, notes: dict[str, str]
) -> web.Response:
    vid = request.match_info["violation_id"]
    doc = await visible_violation(request, vid)
    c = ctx(request)
    try:
        await c.cases.transition(vid, doc["carrier"], action, to, principal(request), notes)
    except TransitionRefused as exc:
        raise conflict(f"the case is {exc.state}; {action.name} is not possible") from None
    return json_response({"violation_id": vid, "case": await c.cases.case(vid)})


async def ack(request: web.Request) -> web.Response:
    await visible_violation(request, request.match_info["violation_id"])
    body = await read_body(request, AckRequest, required=False)
    notes = {"note": body.note.strip()} if body.note is not None else {}
    return await _move(request, ACK, "acknowledged", notes)


async def dispute(request: web.Request) -> web.Response:
    await visible_violation(request, request.match_info["violation_id"])
    body = await read_body(request, DisputeRequest, required=True)
    return await _move(request, DISPUTE, "disputed", {"reason": body.reason.strip()})


async def decide(request: web.Request) -> web.Response:
    await visible_violation(request, request.match_info["violation_id"])
    body = await read_body(request, DecisionRequest, required=True)
    return await _move(request, DECIDE, body.outcome, {"note": body.note.strip()})


async def parcel(request: web.Request) -> web.Response:
    pid = request.match_info["parcel_id"]
    c = ctx(request)
    who = principal(request)
    path = await c.reader.parcel_path(pid) if len(pid) <= 128 else None
    if path is None:
        raise not_found("parcel")
    # the timeline is built on read by the same core the worker runs
    tl = timeline(analyse_parcel(path, c.network, c.rules), c.network)
    if not who.is_regulator and who.carrier not in tl.get("carriers", []):
        raise not_found("parcel")
    ids = sorted(set(tl.get("violations", [])) | await c.reader.violation_ids_of_parcel(pid))
    docs = [d for d in await c.reader.violations(ids) if d is not None]
    if not who.is_regulator:
        docs = [d for d in docs if d.get("carrier") == who.carrier]
    docs.sort(key=lambda d: (d["occurred_at"], d["violation_id"]))
    events: dict[str, dict[str, Any]] = {s["event_id"]: s for s in tl.get("scans", [])}
    events.update({k["complaint_id"]: k for k in tl.get("complaints", [])})
    cases = await c.cases.states([d["violation_id"] for d in docs])
    for doc, case in zip(docs, cases, strict=True):
        doc["case"] = case
        doc["evidence_events"] = [events[e] for e in doc.get("evidence", []) if e in events]
    tl["violations"] = docs
    return json_response(tl)


async def summary(request: web.Request) -> web.Response:
    return json_response(await ctx(request).cases.summary(carrier_param(request)))
