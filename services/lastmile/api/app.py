"""The aiohttp application: routes, middlewares (errors, metrics, auth, rate limit, roles).

``create_app(settings, redis)`` builds it over a Redis client made with
``decode_responses=True``; ``lastmile api`` runs it, tests drive it with aiohttp's test
utilities. The route table below and the OpenAPI document (lastmile.api.openapi) list the
same operations; the roles allowed on each come from the document.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis.asyncio import Redis
from redis.exceptions import RedisError

from lastmile.api import sse, views, webhook_views
from lastmile.api.auth import KeyStore, bearer_token
from lastmile.api.cases import CaseStore
from lastmile.api.config import ApiConfig
from lastmile.api.context import CTX, PRINCIPAL, Ctx, ctx
from lastmile.api.dispatcher import Dispatcher
from lastmile.api.errors import ApiError, error_response, forbidden, json_response, unauthorized
from lastmile.api.metrics import api_metrics
from lastmile.api.openapi import build, roles_of
from lastmile.api.ratelimit import RateLimiter
from lastmile.api.slots import StreamSlots
from lastmile.api.webhooks import WebhookStore
from lastmile.domain.network import Network
from lastmile.io.files import load_network, load_rule_config
from lastmile.io.redis_client import is_unavailable, sibling
from lastmile.readmodel.keys import Keys
from lastmile.readmodel.reader import ReadModelReader
from lastmile.settings import Settings

log = logging.getLogger("lastmile.api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROLES = web.AppKey("lastmile_roles", dict)
HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    400: "bad_request",
}


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(build())


async def healthz(request: web.Request) -> web.Response:
    c = ctx(request)
    try:
        await c.redis.ping()
    except (RedisError, OSError):
        wait = str(c.config.unavailable_retry_after_s)
        return error_response(503, "unavailable", "Redis is not reachable", {"Retry-After": wait})
    return json_response({"status": "ok"})


def create_metrics_app(api: web.Application) -> web.Application:
    """``GET /metrics`` of `api`'s registry, for a separate, internal listener.

    The metrics name carriers and need no key, so they are not served on the API's port:
    ``lastmile api`` binds this app to ``--metrics-host``/``--metrics-port`` (127.0.0.1).
    """
    registry = api[CTX].metrics.registry

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.on_response_prepare.append(_harden_headers)
    return app


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/openapi.json", openapi_json),
    ("GET", "/healthz", healthz),
    ("GET", "/v1/violations", views.list_violations),
    ("GET", "/v1/violations/stream", sse.stream),
    ("GET", "/v1/violations/{violation_id}", views.get_violation),
    ("POST", "/v1/violations/{violation_id}/ack", views.ack),
    ("POST", "/v1/violations/{violation_id}/dispute", views.dispute),
    ("POST", "/v1/violations/{violation_id}/decision", views.decide),
    ("GET", "/v1/parcels/{parcel_id}", views.parcel),
    ("GET", "/v1/cases/summary", views.summary),
    ("POST", "/v1/webhooks", webhook_views.register),
    ("GET", "/v1/webhooks", webhook_views.status),
    ("DELETE", "/v1/webhooks", webhook_views.delete),
    ("GET", "/v1/webhooks/deliveries", webhook_views.deliveries),
    ("GET", "/v1/admin/webhooks", webhook_views.list_all),
    ("DELETE", "/v1/admin/webhooks/{carrier}", webhook_views.delete_any),
]


_last_unavailable_log = 0.0


def _log_unavailable(exc: BaseException) -> None:
    """One line, at most every 10 s: an outage must not flood the log."""
    global _last_unavailable_log
    now = time.monotonic()
    if now - _last_unavailable_log >= 10:
        _last_unavailable_log = now
        log.warning("Redis unavailable (%s); answering 503", type(exc).__name__)


async def _harden_headers(request: web.Request, resp: web.StreamResponse) -> None:
    """Every answer: no MIME sniffing, no caching of tenant data, no version banner."""
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers["Server"] = "lastmile"


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def errors_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        resp = await handler(request)
    except ApiError as exc:
        resp = error_response(exc.status, exc.code, exc.message, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        resp = error_response(
            exc.status, HTTP_CODES.get(exc.status, "http_error"), exc.reason, headers
        )
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except RedisError as exc:
        if not is_unavailable(exc):
            log.error("Redis error on %s %s: %r", request.method, _route_label(request), exc)
            resp = error_response(500, "internal", "internal server error")
        else:
            _log_unavailable(exc)
            wait = ctx(request).config.unavailable_retry_after_s
            resp = error_response(
                503,
                "unavailable",
                f"the data store is unavailable; retry in {wait} s",
                {"Retry-After": str(wait)},
            )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, _route_label(request))
        resp = error_response(500, "internal", "internal server error")
    ctx(request).metrics.requests.labels(
        _route_label(request), request.method, str(resp.status)
    ).inc()
    return resp


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    roles = request.app[ROLES].get(route)
    if not roles:  # public, or unmatched (404/405 come from the handler)
        return await handler(request)
    c = ctx(request)
    token = bearer_token(request.headers.get("Authorization"))
    who = await c.keys.lookup(token) if token else None
    if who is None:
        raise unauthorized()
    wait = await c.limiter.take(who.key_id)
    if wait:
        c.metrics.rate_limited.labels(who.role).inc()
        raise ApiError(
            429,
            "rate_limited",
            f"rate limit exceeded; retry in {wait} s",
            {"Retry-After": str(wait)},
        )
    if who.role not in roles:
        raise forbidden(
            "this endpoint is for the regulator"
            if roles == ("regulator",)
            else "this endpoint is for carrier keys"
        )
    request[PRINCIPAL] = who
    return await handler(request)


def create_app(
    settings: Settings,
    redis: Redis,
    config: ApiConfig | None = None,
    registry: CollectorRegistry | None = None,
    network: Network | None = None,
) -> web.Application:
    """The API over `redis` (a client with decode_responses=True) under settings.redis_prefix."""
    if not redis.connection_pool.connection_kwargs.get("decode_responses"):
        raise ValueError("the API needs a Redis client made with decode_responses=True")
    config = config or ApiConfig()
    p = settings.redis_prefix
    app = web.Application(
        middlewares=[errors_and_metrics, authenticate], client_max_size=config.max_body_bytes
    )
    app[CTX] = Ctx(
        redis=redis,
        p=p,
        config=config,
        metrics=api_metrics(registry or CollectorRegistry()),
        keys=KeyStore(redis, p),
        cases=CaseStore(redis, p),
        webhooks=WebhookStore(redis, p),
        limiter=RateLimiter(redis, p, config.rate_per_s, config.burst),
        reader=ReadModelReader(redis, Keys(p)),
        network=network if network is not None else load_network(settings.network),
        rules=load_rule_config(settings.rules),
        streams=sibling(redis, config.sse_max_streams, min_timeout_s=config.sse_poll_s + 5.0),
        sse_slots=StreamSlots(config.sse_max_streams, config.sse_max_per_key),
    )
    app.on_response_prepare.append(_harden_headers)
    app.on_cleanup.append(_close_streams)
    roles: dict[AbstractRoute, tuple[str, ...]] = {}
    for method, path, handler in ROUTES:
        route = app.router.add_route(method, path, handler)
        roles[route] = roles_of(method, path)
    app[ROLES] = roles
    if config.run_dispatcher:
        app.cleanup_ctx.append(_dispatcher)
    return app


async def _close_streams(app: web.Application) -> None:
    await app[CTX].streams.aclose()


async def _dispatcher(app: web.Application) -> AsyncIterator[None]:
    c = app[CTX]
    task = asyncio.create_task(
        Dispatcher(c.redis, c.p, c.config, c.metrics).run(), name="webhook-dispatcher"
    )
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
