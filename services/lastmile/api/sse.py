"""GET /v1/violations/stream: Server-Sent Events over the {p}:vs Redis stream.

Each event's ``id:`` is the stream entry id, so a client that reconnects with
``Last-Event-ID`` (header, or ``?last_event_id=`` for clients that cannot set headers)
resumes with the entry right after it: no gap, no repeat. Entries of other carriers are
skipped for carrier keys. Without an id the stream starts at the current tail (new
violations only); ``0-0`` replays the whole retained stream. A comment line every
``sse_heartbeat_s`` keeps proxies from closing an idle stream.
"""

from __future__ import annotations

from aiohttp import web

from lastmile.api.context import ctx, principal
from lastmile.api.errors import invalid
from lastmile.api.pagination import is_stream_id
from lastmile.api.views import carrier_scope
from lastmile.readmodel.keys import Keys


def resume_point(request: web.Request) -> str | None:
    header = request.headers.get("Last-Event-ID")
    query = request.query.get("last_event_id")
    value = header if header not in (None, "") else query
    if value is None or value == "":
        return None
    if not is_stream_id(value):
        raise invalid("Last-Event-ID must be an event id of this stream (like 1700000000000-0)")
    return value


def frame(entry_id: str, doc: bytes | str) -> bytes:
    data = doc.encode() if isinstance(doc, str) else doc
    return b"id: " + entry_id.encode() + b"\nevent: violation\ndata: " + data + b"\n\n"


async def stream(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    carrier = carrier_scope(request, principal(request))
    last = resume_point(request)
    key = Keys(c.p).violation_stream
    if last is None:
        tail = await c.redis.xrevrange(key, count=1)
        last = tail[0][0] if tail else "0-0"
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    await resp.write(b"retry: 3000\n\n")
    block_ms = max(1, int(c.config.sse_heartbeat_s * 1000))
    c.metrics.sse_clients.inc()
    try:
        while True:
            res = await c.redis.xread({key: last}, count=100, block=block_ms)
            if not res:
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
            last = entries[-1][0]
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away; it resumes with Last-Event-ID
    finally:
        c.metrics.sse_clients.dec()
    return resp
