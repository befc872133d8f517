"""The OpenAPI document: committed copy up to date, every route documented, roles declared."""

from __future__ import annotations

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
