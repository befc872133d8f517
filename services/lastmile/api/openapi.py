"""The OpenAPI 3 document: built here, served at /openapi.json, committed as openapi.json.

This module is the single source of truth; ``python -m lastmile.api.openapi`` rewrites the
committed copy and a unit test fails when the two differ or when a route of the app is
missing from the document (or the other way round). Each operation carries
``x-lastmile-roles``, the key roles allowed to call it, which the app enforces.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from lastmile.api.cases import STATES
from lastmile.domain.rules import RULES

COMMITTED = Path(__file__).with_name("openapi.json")
TYPES = sorted({t for t, _ in RULES.values()})
RULE_NAMES = sorted({k.split("/", 1)[1] for k in RULES})
CARRIER = ("carrier",)
REGULATOR = ("regulator",)
BOTH = ("carrier", "regulator")
PUBLIC: tuple[str, ...] = ()


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def obj(required: list[str] | tuple[str, ...], **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
INT = {"type": "integer", "minimum": 0}
STATE_COUNTS = obj(STATES, **dict.fromkeys(STATES, INT))

SCHEMAS: dict[str, Any] = {
    "Error": obj(["error"], error=obj(["code", "message"], code=STR, message=STR)),
    "Violation": obj(
        [
            "violation_id",
            "type",
            "rule",
            "severity",
            "parcel_id",
            "carrier",
            "occurred_at",
            "detected_at",
            "evidence",
            "detail",
        ],
        violation_id=STR,
        type={"type": "string", "enum": TYPES},
        rule={"type": "string", "enum": RULE_NAMES},
        severity={"type": "string", "enum": ["low", "medium", "high"]},
        parcel_id=STR,
        carrier=STR,
        contract_carrier=nullable(STR),
        courier_id=nullable(STR),
        town=nullable(STR),
        village=nullable(STR),
        remote=nullable({"type": "boolean"}),
        occurred_at=TIME,
        detected_at=TIME,
        evidence={"type": "array", "items": STR},
        detail={"type": "object"},
    ),
    "CaseState": obj(
        ["state"], state={"type": "string", "enum": list(STATES)}, updated_at=nullable(TIME)
    ),
    "CaseEntry": obj(
        ["at", "action", "to", "by", "role"],
        at=TIME,
        action={"type": "string", "enum": ["ack", "dispute", "decision"]},
        to={"type": "string", "enum": list(STATES[1:])},
        by=STR,
        role=STR,
        reason=STR,
        note=STR,
    ),
    "Case": {
        "allOf": [
            ref("CaseState"),
            obj(["history"], history={"type": "array", "items": ref("CaseEntry")}),
        ]
    },
    "ViolationItem": {"allOf": [ref("Violation"), obj(["case"], case=ref("CaseState"))]},
    "ViolationDetail": {"allOf": [ref("Violation"), obj(["case"], case=ref("Case"))]},
    "ViolationPage": obj(
        ["items", "next_cursor"],
        items={"type": "array", "items": ref("ViolationItem")},
        next_cursor=nullable(STR),
    ),
    "CaseResponse": obj(["violation_id", "case"], violation_id=STR, case=ref("Case")),
    "AckRequest": obj([], note={"type": "string", "maxLength": 1000}),
    "DisputeRequest": obj(["reason"], reason={"type": "string", "minLength": 1, "maxLength": 1000}),
    "DecisionRequest": obj(
        ["outcome", "note"],
        outcome={"type": "string", "enum": ["upheld", "dismissed"]},
        note={"type": "string", "minLength": 1, "maxLength": 1000},
    ),
    "ParcelViolation": {
        "allOf": [
            ref("ViolationItem"),
            obj(
                ["evidence_events"],
                evidence_events={"type": "array", "items": {"type": "object"}},
            ),
        ]
    },
    "Parcel": obj(
        [
            "parcel_id",
            "destination",
            "carriers",
            "hops",
            "handovers",
            "scans",
            "complaints",
            "violations",
        ],
        parcel_id=STR,
        direction=nullable(STR),
        destination={"type": "object"},
        contract_carrier=nullable(STR),
        carriers={"type": "array", "items": STR},
        hops={"type": "array", "items": {"type": "object"}},
        handovers={"type": "array", "items": {"type": "object"}},
        scans={"type": "array", "items": {"type": "object"}},
        complaints={"type": "array", "items": {"type": "object"}},
        violations={"type": "array", "items": ref("ParcelViolation")},
    ),
    "CaseSummary": obj(
        ["total", "by_state", "by_carrier"],
        total=INT,
        by_state=STATE_COUNTS,
        by_carrier={
            "type": "object",
            "additionalProperties": obj(["total", "by_state"], total=INT, by_state=STATE_COUNTS),
        },
    ),
    "WebhookRequest": obj(
        ["url"],
        url={"type": "string", "format": "uri", "maxLength": 2048},
        replay={
            "type": "boolean",
            "description": "first registration only: deliver the whole stream",
        },
    ),
    "WebhookCreated": obj(
        ["id", "url", "secret", "created_at"],
        id=STR,
        url=STR,
        created_at=TIME,
        secret={"type": "string", "description": "shown once; signs every delivery"},
    ),
    "WebhookStatus": obj(
        ["id", "url", "created_at", "status", "attempts"],
        id=STR,
        url=STR,
        created_at=TIME,
        cursor=nullable(STR),
        status={"type": "string", "enum": ["ok", "retrying", "suspended"]},
        attempts=INT,
        last_error=nullable(STR),
        last_attempt_at=nullable(STR),
        last_success_at=nullable(STR),
        failing_since=nullable(STR),
        pending_delivery=nullable(STR),
    ),
    "Delivery": obj(
        ["log_id", "delivery_id", "violation_id", "attempt", "outcome", "at"],
        log_id=STR,
        delivery_id=STR,
        violation_id=STR,
        attempt=INT,
        outcome={"type": "string", "enum": ["delivered", "failed"]},
        status_code=nullable({"type": "integer"}),
        error=nullable(STR),
        duration_ms=nullable({"type": "number"}),
        at=TIME,
        next_retry_at=nullable(TIME),
    ),
    "WebhookList": obj(
        ["items"],
        items={
            "type": "array",
            "items": {"allOf": [obj(["carrier"], carrier=STR), ref("WebhookStatus")]},
        },
    ),
    "DeliveryPage": obj(
        ["items", "next_cursor"],
        items={"type": "array", "items": ref("Delivery")},
        next_cursor=nullable(STR),
    ),
}

ERRORS = {
    "400": "malformed cursor or stream id (not one this API hands out)",
    "401": "missing, malformed, unknown or revoked key",
    "403": "the key's role may not call this operation",
    "404": "no such resource visible to this key",
    "409": "the case is not in a state that allows this action",
    "413": "request body too large",
    "422": "invalid parameter or body",
    "429": "rate limit of the key exhausted (or, on the stream, too many open streams); "
    "see Retry-After",
    "503": "Redis is unavailable; see Retry-After",
}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    }


PAGE = [
    _q("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}, "page size"),
    _q("cursor", {"type": "string", "maxLength": 512}, "next_cursor of the previous page"),
]
FILTERS = [
    _q("type", {"type": "string", "enum": TYPES}, "violation type"),
    _q("rule", {"type": "string", "enum": RULE_NAMES}, "rule name"),
    _q("town", {"type": "string", "minLength": 1, "maxLength": 32}, "town code"),
    _q("from", TIME, "occurred_at at or after (RFC 3339 with offset)"),
    _q("to", TIME, "occurred_at before (RFC 3339 with offset)"),
    _q(
        "carrier",
        {"type": "string", "minLength": 1, "maxLength": 16},
        "regulator: one carrier; a carrier key may only name itself",
    ),
]


def _json(schema_name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": ref(schema_name)}}}


def op(
    summary: str,
    roles: tuple[str, ...],
    ok: dict[str, Any],
    errors: str = "",
    params: list[dict[str, Any]] | None = None,
    body: str | None = None,
    body_required: bool = True,
    description: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": summary,
        "x-lastmile-roles": list(roles),
        "responses": dict(ok),
    }
    if description:
        out["description"] = description
    if params:
        out["parameters"] = params
    if body:
        out["requestBody"] = {"required": body_required, **_json(body)}
    if roles:
        errors = "401 429 " + errors + " 503"
    else:
        out["security"] = []
    for code in errors.split():
        out["responses"][code] = {"description": ERRORS[code], **_json("Error")}
    return out


def _ok(description: str, schema: str | None = None, status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, **(_json(schema) if schema else {})}}


VID = [_path("violation_id")]

OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/openapi.json"): op(
        "This document",
        PUBLIC,
        {
            "200": {
                "description": "OpenAPI 3 document",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    ),
    ("GET", "/healthz"): op(
        "Liveness and Redis reachability",
        PUBLIC,
        {
            "200": {
                "description": "healthy",
                "content": {"application/json": {"schema": obj(["status"], status=STR)}},
            },
            "503": {"description": "Redis unreachable; see Retry-After", **_json("Error")},
        },
    ),
    ("GET", "/v1/violations"): op(
        "List violations, oldest first, by (occurred_at, violation_id)",
        BOTH,
        _ok("a page; next_cursor is null on the last page", "ViolationPage"),
        "400 403 422",
        params=FILTERS + PAGE,
        description="Carrier keys see only violations whose responsible carrier is theirs. "
        "A page may "
        "hold fewer than limit items; page until next_cursor is null.",
    ),
    ("GET", "/v1/violations/stream"): op(
        "Server-Sent Events: one `violation` event per new violation",
        BOTH,
        {
            "200": {
                "description": "text/event-stream; `id:` is the stream entry id",
                "content": {"text/event-stream": {"schema": STR}},
            }
        },
        "400 403 422",
        params=[
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": r"^[0-9]{1,20}-[0-9]{1,20}$"},
                "description": "resume after this event id ('0-0': the whole retained stream)",
            },
            _q(
                "last_event_id",
                {"type": "string", "pattern": r"^[0-9]{1,20}-[0-9]{1,20}$"},
                "same as the Last-Event-ID header (for clients that cannot set headers)",
            ),
            FILTERS[-1],
        ],
    ),
    ("GET", "/v1/violations/{violation_id}"): op(
        "One violation with its case history",
        BOTH,
        _ok("the violation", "ViolationDetail"),
        "404",
        params=VID,
    ),
    ("POST", "/v1/violations/{violation_id}/ack"): op(
        "Acknowledge a violation (carrier)",
        CARRIER,
        _ok("the case", "CaseResponse"),
        "403 404 409 413 422",
        params=VID,
        body="AckRequest",
        body_required=False,
    ),
    ("POST", "/v1/violations/{violation_id}/dispute"): op(
        "Dispute a violation with a reason (carrier)",
        CARRIER,
        _ok("the case", "CaseResponse"),
        "403 404 409 413 422",
        params=VID,
        body="DisputeRequest",
    ),
    ("POST", "/v1/violations/{violation_id}/decision"): op(
        "Decide a case: upheld or dismissed, with a note (regulator; final)",
        REGULATOR,
        _ok("the case", "CaseResponse"),
        "403 404 409 413 422",
        params=VID,
        body="DecisionRequest",
    ),
    ("GET", "/v1/parcels/{parcel_id}"): op(
        "A parcel's timeline with its violations and their evidence events",
        BOTH,
        _ok("the timeline", "Parcel"),
        "404",
        params=[_path("parcel_id")],
        description="A carrier key reads only parcels it scanned and sees only its own violations.",
    ),
    ("GET", "/v1/cases/summary"): op(
        "Case counts by state, overall and per carrier (regulator)",
        REGULATOR,
        _ok("the counts", "CaseSummary"),
        "403 422",
        params=[FILTERS[-1]],
    ),
    ("POST", "/v1/webhooks"): op(
        "Register (or replace) the carrier's webhook endpoint; returns the signing secret once",
        CARRIER,
        _ok("registered", "WebhookCreated", "201"),
        "403 413 422",
        body="WebhookRequest",
    ),
    ("GET", "/v1/webhooks"): op(
        "The carrier's webhook registration and delivery status",
        CARRIER,
        _ok("the registration", "WebhookStatus"),
        "403 404",
    ),
    ("DELETE", "/v1/webhooks"): op(
        "Remove the carrier's webhook registration",
        CARRIER,
        {"204": {"description": "removed"}},
        "403 404",
    ),
    ("GET", "/v1/webhooks/deliveries"): op(
        "The carrier's delivery log, newest first",
        CARRIER,
        _ok("a page of attempts", "DeliveryPage"),
        "400 403 422",
        params=[
            _q("outcome", {"type": "string", "enum": ["delivered", "failed"]}, "only this outcome"),
            PAGE[0],
            _q(
                "cursor",
                {"type": "string", "pattern": r"^[0-9]{1,20}-[0-9]{1,20}$"},
                "next_cursor of the previous page",
            ),
        ],
    ),
    ("GET", "/v1/admin/webhooks"): op(
        "Every carrier's webhook registration and delivery state (regulator)",
        REGULATOR,
        _ok("the registrations", "WebhookList"),
        "403",
    ),
    ("DELETE", "/v1/admin/webhooks/{carrier}"): op(
        "Remove a carrier's webhook registration (regulator); deliveries stop at once",
        REGULATOR,
        {"204": {"description": "removed"}},
        "403 404",
        params=[
            {
                "name": "carrier",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 16},
            }
        ],
    ),
}


def build() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), operation in OPERATIONS.items():
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "lastmile API",
            "version": "1.0.0",
            "description": "Violation feeds for courier firms, disputes, the regulator's case API "
            "(快递进村 delivery-quality monitor). See docs/api.md.",
        },
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "API key from `lastmile keys issue`",
                }
            },
            "schemas": SCHEMAS,
        },
        "paths": paths,
    }


def roles_of(method: str, path: str) -> tuple[str, ...]:
    return tuple(OPERATIONS[(method, path)]["x-lastmile-roles"])


def render() -> bytes:
    return orjson.dumps(build(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


if __name__ == "__main__":
    COMMITTED.write_bytes(render())
    sys.stdout.write(f"wrote {COMMITTED}\n")
