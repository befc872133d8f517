"""Handlers of /v1/webhooks: registration, status, removal and the delivery log."""

from __future__ import annotations

from aiohttp import web

from lastmile.api.auth import CARRIER_RE
from lastmile.api.bodies import WebhookRequest
from lastmile.api.context import ctx, principal
from lastmile.api.errors import invalid, json_response, malformed, not_found
from lastmile.api.pagination import is_stream_id, one, parse_limit
from lastmile.api.views import read_body
from lastmile.api.webhooks import validate_url


def _carrier(request: web.Request) -> str:
    carrier = principal(request).carrier
    assert carrier is not None  # the route is for carrier keys only
    return carrier


async def register(request: web.Request) -> web.Response:
    c = ctx(request)
    body = await read_body(request, WebhookRequest, required=True)
    url = validate_url(body.url, c.config.allow_insecure_webhooks)
    reg = await c.webhooks.register(_carrier(request), url, body.replay)
    return json_response(reg, status=201)


async def status(request: web.Request) -> web.Response:
    st = await ctx(request).webhooks.status(_carrier(request))
    if st is None:
        raise not_found("webhook registration")
    return json_response(st)


async def delete(request: web.Request) -> web.Response:
    if not await ctx(request).webhooks.delete(_carrier(request)):
        raise not_found("webhook registration")
    return web.Response(status=204)


async def deliveries(request: web.Request) -> web.Response:
    q = request.query
    outcome = one(q, "outcome")
    if outcome is not None and outcome not in ("delivered", "failed"):
        raise invalid("outcome must be 'delivered' or 'failed'")
    cursor = one(q, "cursor")
    if cursor is not None and not is_stream_id(cursor):
        raise malformed("cursor is not a cursor returned by this API")
    items, nxt = await ctx(request).webhooks.log(
        _carrier(request), parse_limit(one(q, "limit")), cursor, outcome
    )
    return json_response({"items": items, "next_cursor": nxt})


async def list_all(request: web.Request) -> web.Response:
    """The regulator's view: every carrier's registration and delivery state."""
    return json_response({"items": await ctx(request).webhooks.all()})


async def delete_any(request: web.Request) -> web.Response:
    """The regulator removes a carrier's registration (deliveries stop at once)."""
    carrier = request.match_info["carrier"]
    if not CARRIER_RE.fullmatch(carrier) or not await ctx(request).webhooks.delete(carrier):
        raise not_found("webhook registration")
    return web.Response(status=204)
