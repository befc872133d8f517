"""Violation lists over the worker's index zsets, with filters and keyset pagination.

The index walked is chosen from the filters alone (carrier, else town, else type, else
all), so a cursor always refers to the same ordering. Every document is still checked
against every filter in Python, the carrier above all: the tenant boundary never rests
on the choice of index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from lastmile.api.pagination import Position
from lastmile.readmodel.keys import Keys

CHUNK = 200
SCAN_BUDGET = 5000  # documents examined per request before a partial page is returned


@dataclass(frozen=True, slots=True)
class ViolationQuery:
    carrier: str | None = None
    type: str | None = None
    rule: str | None = None
    town: str | None = None
    start: float | None = None  # occurred_at >= start (epoch seconds)
    end: float | None = None  # occurred_at < end

    def index(self, p: str) -> str:
        if self.carrier is not None:
            return Keys(p).violations_by_carrier(self.carrier)
        if self.town is not None:
            return Keys(p).violations_by_town(self.town)
        if self.type is not None:
            return Keys(p).violations_by_type(self.type)
        return Keys(p).violations_all

    def matches(self, doc: dict[str, Any]) -> bool:
        return (
            (self.carrier is None or doc.get("carrier") == self.carrier)
            and (self.type is None or doc.get("type") == self.type)
            and (self.rule is None or doc.get("rule") == self.rule)
            and (self.town is None or (doc.get("town") or "unknown") == self.town)
        )


def _bound(value: float | None, default: str, exclusive: bool = False) -> str:
    if value is None:
        return default
    return ("(" if exclusive else "") + repr(value)


async def page(
    redis: Redis,
    p: str,
    query: ViolationQuery,
    limit: int,
    after: Position | None,
    budget: int = SCAN_BUDGET,
) -> tuple[list[dict[str, Any]], Position | None]:
    """Up to `limit` matching violations after `after`, and the cursor position or None at the end.

    A page may hold fewer than `limit` items (even none) with a non-null cursor when the
    scan budget ran out on non-matching documents; clients page until the cursor is null.
    """
    lo = query.start
    if after is not None and (lo is None or after.score >= lo):
        lo = after.score
    lo_s = _bound(lo, "-inf")
    hi_s = _bound(query.end, "+inf", exclusive=True)
    key = query.index(p)
    items: list[dict[str, Any]] = []
    examined = 0
    offset = 0
    last = after
    while True:
        chunk = await redis.zrangebyscore(key, lo_s, hi_s, start=offset, num=CHUNK, withscores=True)
        offset += len(chunk)
        fresh = [
            Position(float(score), member)
            for member, score in chunk
            if after is None or Position(float(score), member) > after
        ]
        docs = (
            await redis.hmget(Keys(p).violation_docs, [pos.violation_id for pos in fresh])  # type: ignore[misc]
            if fresh
            else []
        )
        for pos, raw in zip(fresh, docs, strict=True):
            examined += 1
            last = pos
            if raw is not None:
                doc = orjson.loads(raw)
                if query.matches(doc):
                    items.append(doc)
            if len(items) >= limit or examined >= budget:
                return items, last
        if len(chunk) < CHUNK:
            return items, None
