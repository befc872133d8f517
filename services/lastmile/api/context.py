"""Per-app state shared by the handlers (one object under an aiohttp AppKey)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from lastmile.api.auth import KeyStore, Principal
from lastmile.api.cases import CaseStore
from lastmile.api.config import ApiConfig
from lastmile.api.metrics import ApiMetrics
from lastmile.api.ratelimit import RateLimiter
from lastmile.api.slots import StreamSlots
from lastmile.api.webhooks import WebhookStore
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.readmodel.reader import ReadModelReader


@dataclass
class Ctx:
    redis: Redis
    p: str
    config: ApiConfig
    metrics: ApiMetrics
    keys: KeyStore
    cases: CaseStore
    webhooks: WebhookStore
    limiter: RateLimiter
    reader: ReadModelReader
    network: Network
    rules: RuleConfig
    streams: Redis  # own bounded pool for the SSE streams' blocking reads
    sse_slots: StreamSlots


CTX = web.AppKey("lastmile_api", Ctx)
# web.RequestKey exists from aiohttp 3.12 on; older releases take a plain string key
PRINCIPAL: Any = (
    web.RequestKey("lastmile_principal", Principal)
    if hasattr(web, "RequestKey")
    else "lastmile_principal"
)


def ctx(request: web.Request) -> Ctx:
    return request.app[CTX]


def principal(request: web.Request) -> Principal:
    who: Principal = request[PRINCIPAL]
    return who
