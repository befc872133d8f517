"""GET /v1/violations/stream: Server-Sent Events over the {p}:vs Redis stream.

Each event's ``id:`` is the stream entry id, so a client that reconnects with
``Last-Event-ID`` (header, or ``?last_event_id=`` for clients that cannot set headers)
resumes with the entry right after it: no gap, no repeat. Entries of other carriers are
skipped for carrier keys. Without an id the stream starts at the current tail (new
violations only); ``0-0`` replays the whole retained stream. A comment line every
``sse_heartbeat_s`` keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web
from redis.exceptions import RedisError

from lastmile.api.auth import bearer_token
from lastmile.api.context import ctx, principal
from lastmile.api.errors import ApiError, malformed
from lastmile.api.pagination import is_stream_id
from lastmile.api.slots import SlotsFull
from lastmile.api.views import carrier_scope
from lastmile.readmodel.keys import Keys

log = logging.getLogger("lastmile.api.sse")
REVOKED = (
    b'event: error\ndata: {"error": {"code": "unauthorized", "message": "the key was revoked"}}\n\n'
)
UNAVAILABLE = (
    b'event: error\ndata: {"error": {"code": "unavailable", "message": "Redis is unavailable; '
    b'reconnect later"}}\n\n'
)


def resume_point(request: web.Request) -> str | None:
    header = request.headers.get("Last-Event-ID")
    query = request.query.get("last_event_id")
    value = header if header not in (None, "") else query
    if value is None or value == "":
        return None
    if not is_stream_id(value):
        raise malformed("Last-Event-ID must be an event id of this stream (like 1700000000000-0)")
    return value


def frame(entry_id: str, doc: bytes | str) -> bytes:
    data = doc.encode() if isinstance(doc, str) else doc
    return b"id: " + entry_id.encode() + b"\nevent: violation\ndata: " + data + b"\n\n"


async def stream(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    who = principal(request)
    carrier = carrier_scope(request, who)
    last = resume_point(request)
    try:
        with c.sse_slots.hold(who.key_id):
            return await _serve(request, carrier, last)
    except SlotsFull as full:
        wait = c.config.unavailable_retry_after_s
        limit = c.config.sse_max_per_key if full.scope == "key" else c.config.sse_max_streams
        raise ApiError(
            429,
            "too_many_streams",
            f"too many open streams {'for this key' if full.scope == 'key' else 'on this server'} "
            f"(at most {limit}); close one or retry in {wait} s",
            {"Retry-After": str(wait)},
        ) from None


async def _serve(request: web.Request, carrier: str | None, last: str | None) -> web.StreamResponse:
    c = ctx(request)
    key = Keys(c.p).violation_stream
    if last is None:
        tail = await c.redis.xrevrange(key, count=1)
        last = tail[0][0] if tail else "0-0"
    token = bearer_token(request.headers.get("Authorization")) or ""
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    await resp.write(b"retry: 3000\n\n")
    block_ms = max(1, int(min(c.config.sse_poll_s, c.config.sse_heartbeat_s) * 1000))
    loop = asyncio.get_running_loop()
    next_beat = loop.time() + c.config.sse_heartbeat_s
    next_check = loop.time() + c.config.sse_revalidate_s
    c.metrics.sse_clients.inc()
    try:
        while True:
            if request.transport is None or request.transport.is_closing():
                break  # the client went away (noticed within sse_poll_s: frees the slot)
            now = loop.time()
            if now >= next_check:  # revocation takes effect on open streams too
                next_check = now + c.config.sse_revalidate_s
                if not await c.keys.is_live(token):
                    await resp.write(REVOKED)
                    break
            res = await c.streams.xread({key: last}, count=100, block=block_ms)
            if not res:
                if loop.time() >= next_beat:
                    next_beat = loop.time() + c.config.sse_heartbeat_s
                    await resp.write(b": keepalive\n\n")
                continue
            entries = res[0][1]
            mine = [
                (eid, f["id"])
                for eid, f in entries
                if carrier is None or f.get("carrier") == carrier
            ]
            docs = (
                await c.redis.hmget(Keys(c.p).violation_docs, [vid for _, vid in mine])  # type: ignore[misc]
                if mine
                else []
            )
            chunk = b"".join(
                frame(eid, doc) for (eid, _), doc in zip(mine, docs, strict=True) if doc
            )
            if chunk:
                await resp.write(chunk)
                next_beat = loop.time() + c.config.sse_heartbeat_s
            last = entries[-1][0]
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away; it resumes with Last-Event-ID
    except RedisError as exc:
        # the 200 has been sent: end the stream; the client reconnects with Last-Event-ID
        # and gets 503 until Redis is back
        log.warning("SSE stream closed: Redis error %s", type(exc).__name__)
        with contextlib.suppress(ConnectionError, ConnectionResetError):
            await resp.write(UNAVAILABLE)
    finally:
        c.metrics.sse_clients.dec()
    return resp
