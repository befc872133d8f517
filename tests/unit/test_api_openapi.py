"""The OpenAPI document: committed copy up to date and valid, every route documented with an
operationId, a tag and its errors, roles declared, the violation the contract's own."""

from __future__ import annotations

import re

import orjson
import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from lastmile.api import openapi
from lastmile.api.app import ROUTES, create_app
from lastmile.api.config import ApiConfig
from lastmile.settings import Settings


def test_committed_document_is_current() -> None:
    assert openapi.COMMITTED.read_bytes() == openapi.render(), (
        "run `python -m lastmile.api.openapi` and commit services/lastmile/api/openapi.json"
    )


def test_every_route_is_documented_and_every_operation_routed() -> None:
    # no connection is made: create_app only registers scripts and routes
    redis = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    app = create_app(
        Settings(redis_prefix="x"), redis, ApiConfig(run_dispatcher=False), CollectorRegistry()
    )
    served = {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.method != "HEAD" and r.resource is not None
    }
    documented = {(m.upper(), p) for p, ops in openapi.build()["paths"].items() for m in ops}
    assert served == documented
    assert {(m, p) for m, p, _ in ROUTES} == documented


def test_roles_and_errors_are_declared() -> None:
    for (method, path), op in openapi.OPERATIONS.items():
        roles = op["x-lastmile-roles"]
        assert set(roles) <= {"carrier", "regulator"}
        if roles:
            assert "401" in op["responses"], (method, path)
            assert "429" in op["responses"], (method, path)
        else:
            assert op["security"] == []
        if roles and set(roles) != {"carrier", "regulator"}:
            assert "403" in op["responses"], (method, path)
    assert openapi.roles_of("POST", "/v1/violations/{violation_id}/decision") == ("regulator",)
    assert openapi.roles_of("POST", "/v1/violations/{violation_id}/dispute") == ("carrier",)


def test_the_document_validates_with_openapi_spec_validator() -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.versions import consts, get_spec_version

    doc = orjson.loads(openapi.COMMITTED.read_bytes())
    assert get_spec_version(doc) == consts.OPENAPIV31
    validate(doc)  # raises on an invalid document


def test_every_operation_has_a_unique_operation_id_a_tag_and_its_errors() -> None:
    doc = openapi.build()
    tags = {t["name"] for t in doc["tags"]}
    ids = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ids.append(op["operationId"])
            assert op["operationId"].isidentifier(), (method, path)
            assert len(op["tags"]) == 1 and op["tags"][0] in tags, (method, path)
            for code, answer in op["responses"].items():
                if code[0] in "45" and path != "/healthz":
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)
            templated = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert templated == set(re.findall(r"{(\w+)}", path)), (method, path)
    assert len(ids) == len(set(ids)) == 16
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["security"] == [{"bearer": []}]


def test_the_violation_served_is_the_contracts() -> None:
    """The API's violation fields are violation.v1's: one definition, no drift."""
    import json
    from pathlib import Path

    schemas = openapi.build()["components"]["schemas"]
    contract = json.loads(
        (Path(__file__).resolve().parents[2] / "schemas/violation.v1.schema.json").read_text()
    )
    item = schemas["ViolationItem"]
    assert {k: v for k, v in item["properties"].items() if k != "case"} == contract["properties"]
    assert set(item["required"]) - {"case"} == set(contract["required"])
    assert item["allOf"] == contract["allOf"]


def test_a_route_without_an_entry_is_refused() -> None:
    async def handler(request: object) -> None:
        return None

    routes = [*ROUTES, ("GET", "/v1/undocumented", handler)]
    with pytest.raises(openapi.RouteNotDocumented, match="/v1/undocumented"):
        openapi.build(routes)
    with pytest.raises(openapi.RouteNotDocumented, match="not routed"):
        openapi.build(ROUTES[1:])
