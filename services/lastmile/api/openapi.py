"""The OpenAPI 3.1 document: built from the route table and the body definitions.

``build(routes)`` walks the app's route table (``lastmile.api.app.ROUTES``): each route must
have an entry in ``OPERATIONS`` below (its operationId, tag, summary, roles, answers and
body) and every entry a route; path parameters come from the route's template. The
schemas under ``components`` are generated from the msgspec definitions of the bodies
(``lastmile.api.bodies``, whose violation is the contract's own). ``python -m
lastmile.api.openapi`` (``make contract``) rewrites the committed copy ``openapi.json``; a
unit test fails when the two differ, and validates the document with
openapi-spec-validator. Each operation carries ``x-lastmile-roles``, the key roles allowed
to call it, which the app enforces.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
import orjson

from lastmile.api import bodies
from lastmile.contract.schemas import violation_rule_conditions
from lastmile.domain.rules import RULES

COMMITTED = Path(__file__).with_name("openapi.json")
TYPES = sorted({t for t, _ in RULES.values()})
RULE_NAMES = sorted({k.split("/", 1)[1] for k in RULES})
CARRIER = ("carrier",)
REGULATOR = ("regulator",)
BOTH = ("carrier", "regulator")
PUBLIC: tuple[str, ...] = ()
TAGS = [
    {"name": "violations", "description": "violation feeds of courier firms and the regulator"},
    {"name": "cases", "description": "acknowledgements, disputes and decisions (申诉与裁定)"},
    {"name": "parcels", "description": "a parcel's reconstructed path and evidence"},
    {"name": "webhooks", "description": "a courier firm's webhook endpoint and delivery log"},
    {"name": "admin", "description": "the regulator's view of every firm's webhooks"},
    {"name": "service", "description": "this document and the health check"},
]
# every body type the document names (the rest come in as their dependencies)
BODY_TYPES: tuple[type[Any], ...] = (
    bodies.Error,
    bodies.Health,
    bodies.ViolationPage,
    bodies.ViolationDetail,
    bodies.CaseResponse,
    bodies.AckRequest,
    bodies.DisputeRequest,
    bodies.DecisionRequest,
    bodies.Parcel,
    bodies.CaseSummary,
    bodies.WebhookRequest,
    bodies.WebhookCreated,
    bodies.WebhookStatus,
    bodies.WebhookList,
    bodies.DeliveryPage,
)
REF_TEMPLATE = "#/components/schemas/{name}"


def ref(kind: type[Any]) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(name=kind.__name__)}


def components() -> dict[str, Any]:
    """``components/schemas``: the bodies' JSON Schemas (2020-12, as OpenAPI 3.1 takes them)."""
    _, schemas = msgspec.json.schema_components(BODY_TYPES, ref_template=REF_TEMPLATE)
    for name, schema in schemas.items():
        schema.pop("title", None)
        if isinstance(schema.get("description"), str):
            schema["description"] = " ".join(schema["description"].split())
        if name in {"Violation", "ViolationItem", "ViolationDetail", "ParcelViolation"}:
            schema["allOf"] = violation_rule_conditions()
    return dict(sorted(schemas.items()))


STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}


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


# path parameters by name (every route template's {name} must be here)
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "violation_id": {"type": "string", "minLength": 1, "maxLength": 128},
    "parcel_id": {"type": "string", "minLength": 1, "maxLength": 128},
    "carrier": {"type": "string", "minLength": 1, "maxLength": 16},
}
_TEMPLATE = re.compile(r"{(\w+)}")

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
STREAM_ID = {"type": "string", "pattern": r"^[0-9]{1,20}-[0-9]{1,20}$"}


def _json(kind: type[Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": ref(kind)}}}


def op(
    operation_id: str,
    tag: str,
    summary: str,
    roles: tuple[str, ...],
    ok: dict[str, Any],
    errors: str = "",
    params: list[dict[str, Any]] | None = None,
    body: type[Any] | None = None,
    body_required: bool = True,
    description: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [tag],
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
        out["responses"][code] = {"description": ERRORS[code], **_json(bodies.Error)}
    return out


def _ok(description: str, kind: type[Any] | None = None, status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, **(_json(kind) if kind else {})}}


OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/openapi.json"): op(
        "getOpenApiDocument",
        "service",
        "This document",
        PUBLIC,
        {
            "200": {
                "description": "OpenAPI 3.1 document",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    ),
    ("GET", "/healthz"): op(
        "getHealth",
        "service",
        "Liveness and Redis reachability",
        PUBLIC,
        {
            **_ok("healthy", bodies.Health),
            "503": {"description": "Redis unreachable; see Retry-After", **_json(bodies.Error)},
        },
    ),
    ("GET", "/v1/violations"): op(
        "listViolations",
        "violations",
        "List violations, oldest first, by (occurred_at, violation_id)",
        BOTH,
        _ok("a page; next_cursor is null on the last page", bodies.ViolationPage),
        "400 403 422",
        params=FILTERS + PAGE,
        description="Carrier keys see only violations whose responsible carrier is theirs. "
        "A page may hold fewer than limit items; page until next_cursor is null.",
    ),
    ("GET", "/v1/violations/stream"): op(
        "streamViolations",
        "violations",
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
                "schema": STREAM_ID,
                "description": "resume after this event id ('0-0': the whole retained stream)",
            },
            _q(
                "last_event_id",
                STREAM_ID,
                "same as the Last-Event-ID header (for clients that cannot set headers)",
            ),
            FILTERS[-1],
        ],
    ),
    ("GET", "/v1/violations/{violation_id}"): op(
        "getViolation",
        "violations",
        "One violation with its case history",
        BOTH,
        _ok("the violation", bodies.ViolationDetail),
        "404",
    ),
    ("POST", "/v1/violations/{violation_id}/ack"): op(
        "acknowledgeViolation",
        "cases",
        "Acknowledge a violation (carrier)",
        CARRIER,
        _ok("the case", bodies.CaseResponse),
        "403 404 409 413 422",
        body=bodies.AckRequest,
        body_required=False,
    ),
    ("POST", "/v1/violations/{violation_id}/dispute"): op(
        "disputeViolation",
        "cases",
        "Dispute a violation with a reason (carrier)",
        CARRIER,
        _ok("the case", bodies.CaseResponse),
        "403 404 409 413 422",
        body=bodies.DisputeRequest,
    ),
    ("POST", "/v1/violations/{violation_id}/decision"): op(
        "decideCase",
        "cases",
        "Decide a case: upheld or dismissed, with a note (regulator; final)",
        REGULATOR,
        _ok("the case", bodies.CaseResponse),
        "403 404 409 413 422",
        body=bodies.DecisionRequest,
    ),
    ("GET", "/v1/parcels/{parcel_id}"): op(
        "getParcel",
        "parcels",
        "A parcel's timeline with its violations and their evidence events",
        BOTH,
        _ok("the timeline", bodies.Parcel),
        "404",
        description="A carrier key reads only parcels it scanned and sees only its own violations.",
    ),
    ("GET", "/v1/cases/summary"): op(
        "getCaseSummary",
        "cases",
        "Case counts by state, overall and per carrier (regulator)",
        REGULATOR,
        _ok("the counts", bodies.CaseSummary),
        "403 422",
        params=[FILTERS[-1]],
    ),
    ("POST", "/v1/webhooks"): op(
        "registerWebhook",
        "webhooks",
        "Register (or replace) the carrier's webhook endpoint; returns the signing secret once",
        CARRIER,
        _ok("registered", bodies.WebhookCreated, "201"),
        "403 413 422",
        body=bodies.WebhookRequest,
    ),
    ("GET", "/v1/webhooks"): op(
        "getWebhook",
        "webhooks",
        "The carrier's webhook registration and delivery status",
        CARRIER,
        _ok("the registration", bodies.WebhookStatus),
        "403 404",
    ),
    ("DELETE", "/v1/webhooks"): op(
        "deleteWebhook",
        "webhooks",
        "Remove the carrier's webhook registration",
        CARRIER,
        {"204": {"description": "removed"}},
        "403 404",
    ),
    ("GET", "/v1/webhooks/deliveries"): op(
        "listWebhookDeliveries",
        "webhooks",
        "The carrier's delivery log, newest first",
        CARRIER,
        _ok("a page of attempts", bodies.DeliveryPage),
        "400 403 422",
        params=[
            _q("outcome", {"type": "string", "enum": ["delivered", "failed"]}, "only this outcome"),
            PAGE[0],
            _q("cursor", STREAM_ID, "next_cursor of the previous page"),
        ],
    ),
    ("GET", "/v1/admin/webhooks"): op(
        "listAllWebhooks",
        "admin",
        "Every carrier's webhook registration and delivery state (regulator)",
        REGULATOR,
        _ok("the registrations", bodies.WebhookList),
        "403",
    ),
    ("DELETE", "/v1/admin/webhooks/{carrier}"): op(
        "deleteCarrierWebhook",
        "admin",
        "Remove a carrier's webhook registration (regulator); deliveries stop at once",
        REGULATOR,
        {"204": {"description": "removed"}},
        "403 404",
    ),
}

Route = tuple[str, str, Callable[..., Any]]


class RouteNotDocumented(LookupError):
    """A route of the app with no entry in OPERATIONS, or an entry with no route."""


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
        for name in _TEMPLATE.findall(path)
    ]


def paths(routes: Iterable[Route]) -> dict[str, dict[str, Any]]:
    """The ``paths`` object: one operation per route, in the route table's order."""
    out: dict[str, dict[str, Any]] = {}
    seen = set()
    for method, path, _handler in routes:
        spec = OPERATIONS.get((method, path))
        if spec is None:
            raise RouteNotDocumented(f"route {method} {path} has no entry in OPERATIONS")
        seen.add((method, path))
        operation = dict(spec)
        params = _path_parameters(path) + list(spec.get("parameters", []))
        if params:
            operation["parameters"] = params
        out.setdefault(path, {})[method.lower()] = operation
    missing = set(OPERATIONS) - seen
    if missing:
        raise RouteNotDocumented(f"documented but not routed: {sorted(missing)}")
    return out


def build(routes: Iterable[Route] | None = None) -> dict[str, Any]:
    if routes is None:
        from lastmile.api.app import ROUTES  # the app imports this module: resolved late

        routes = ROUTES
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "lastmile API",
            "version": "1.0.0",
            "summary": "Delivery-quality cases of express delivery into villages (快递进村)",
            "description": "Violation feeds for courier firms, disputes, the regulator's case API "
            "(快递进村 delivery-quality monitor). See docs/api.md.",
            "contact": {"name": "lastmile maintainers", "url": "https://lastmile.example/"},
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "http://127.0.0.1:8080", "description": "`lastmile api` (local)"}],
        "tags": TAGS,
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "API key from `lastmile keys issue` (a carrier's or the "
                    "regulator's); each operation's x-lastmile-roles says which may call it",
                }
            },
            "schemas": components(),
        },
        "paths": paths(routes),
    }


def roles_of(method: str, path: str) -> tuple[str, ...]:
    return tuple(OPERATIONS[(method, path)]["x-lastmile-roles"])


def render() -> bytes:
    return orjson.dumps(build(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


if __name__ == "__main__":
    COMMITTED.write_bytes(render())
    sys.stdout.write(f"wrote {COMMITTED}\n")
