"""Redis read models, written in pipelined batches; every write is idempotent.

Keys (prefix ``lm`` by default; docs/read-models.md describes them):
  {p}:v                       hash  violation_id -> violation.v1 JSON
  {p}:vi:all / carrier:{c} / town:{t} / type:{t}   zsets of ids scored by occurred_at
  {p}:vi:parcel:{parcel}      set   the parcel's violation ids
  {p}:vs                      stream of new violations (id, carrier): SSE feeds resume from it
  {p}:roll:{day}              hash  daily rollups (China date): v|town|carrier|type|rule,
                                    d|town|carrier|remote (deliveries),
                                    c|town|contract carrier|category (complaints)
  {p}:e2e:{day}               hash  parcel -> "town|carrier|hours" (end-to-end per delivery)
  {p}:parcels:{day}           hash  parcel -> "town|contract carrier" (first seen that day)
  {p}:parcel:{parcel}         string timeline JSON (expires after the retention period)
  {p}:reached:{town}          zset  village -> newest delivery time (coverage 通达率)
  {p}:brands:{town}           zset  carrier -> newest scan time at the town centre (fusion)
Counters only move behind a set-if-absent gate inside a Lua script, so a replay, a
restart or two workers projecting the same violation count it once.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from redis.asyncio import Redis

from lastmile.domain.network import Network
from lastmile.domain.timeline import timeline
from lastmile.worker.step import BatchOutcome

CHINA = timezone(timedelta(hours=8))
GATE_TTL_S = 40 * 86400

_PROJECT_VIOLATION = """
local p, id, doc, score = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local carrier, town, vtype, rule = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local day, parcel = ARGV[9], ARGV[10]
if redis.call('HSETNX', p .. ':v', id, doc) == 0 then return 0 end
redis.call('ZADD', p .. ':vi:all', score, id)
redis.call('ZADD', p .. ':vi:carrier:' .. carrier, score, id)
redis.call('ZADD', p .. ':vi:town:' .. town, score, id)
redis.call('ZADD', p .. ':vi:type:' .. vtype, score, id)
redis.call('SADD', p .. ':vi:parcel:' .. parcel, id)
local field = 'v|' .. town .. '|' .. carrier .. '|' .. vtype .. '|' .. rule
redis.call('HINCRBY', p .. ':roll:' .. day, field, 1)
redis.call('XADD', p .. ':vs', 'MAXLEN', '~', 1000000, '*', 'id', id, 'carrier', carrier)
return 1
"""

_PROJECT_DELIVERY = """
local p, parcel, day, field, e2e, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local gate = p .. ':gate:dlv:' .. day
if redis.call('SADD', gate, parcel) == 0 then return 0 end
redis.call('EXPIRE', gate, ttl)
redis.call('HINCRBY', p .. ':roll:' .. day, field, 1)
if e2e ~= '' then redis.call('HSET', p .. ':e2e:' .. day, parcel, e2e) end
return 1
"""

_PROJECT_COMPLAINT = """
local p, cid, day, field = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('HSETNX', p .. ':cmp:' .. day, cid, field) == 0 then return 0 end
redis.call('HINCRBY', p .. ':roll:' .. day, field, 1)
return 1
"""


def china_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, CHINA).date().isoformat()


class Projection:
    def __init__(
        self, redis: Redis, network: Network, prefix: str = "lm", retention_days: float = 30
    ) -> None:
        self.redis = redis
        self.network = network
        self.p = prefix
        self.retention_s = int(retention_days * 86400)
        self._violation = redis.register_script(_PROJECT_VIOLATION)
        self._delivery = redis.register_script(_PROJECT_DELIVERY)
        self._complaint = redis.register_script(_PROJECT_COMPLAINT)

    async def violations(self, items: list[dict[str, Any]]) -> None:
        """Project violations (from the violation log) in one pipeline."""
        if not items:
            return
        pipe = self.redis.pipeline(transaction=False)
        for v in items:
            ts = datetime.fromisoformat(v["occurred_at"]).timestamp()
            await self._violation(
                args=[
                    self.p,
                    v["violation_id"],
                    orjson.dumps(v),
                    ts,
                    v["carrier"],
                    v.get("town") or "unknown",
                    v["type"],
                    v["rule"],
                    china_day(ts),
                    v["parcel_id"],
                ],
                client=pipe,
            )
        await pipe.execute()

    async def batch(self, outcome: BatchOutcome) -> None:
        """Project one processed batch: timelines, deliveries, complaints, coverage, fusion."""
        if not outcome.updates:
            return
        pipe = self.redis.pipeline(transaction=False)
        net = self.network
        for u in outcome.updates:
            a = u.analysis
            pid = a.path.parcel_id
            if u.new_scans or u.new_complaints:
                pipe.set(
                    f"{self.p}:parcel:{pid}", orjson.dumps(timeline(a, net)), ex=self.retention_s
                )
                first = a.path.scans[0] if a.path.scans else None
                if first is not None:
                    town = a.dest.village.town if a.dest.village else "unknown"
                    pipe.hsetnx(
                        f"{self.p}:parcels:{china_day(first.ts)}", pid, f"{town}|{first.carrier}"
                    )
            village = a.dest.village
            town = village.town if village else "unknown"
            for s in u.new_scans:
                centre_town = net.town_of_center(s.node_id)
                if centre_town is not None:
                    pipe.zadd(f"{self.p}:brands:{centre_town}", {s.carrier: s.ts}, gt=True)
                if s.type == "delivered":
                    node = net.node(s.node_id)
                    if node is not None and node.tier == "village" and node.village:
                        vt = net.villages[node.village].town
                        pipe.zadd(f"{self.p}:reached:{vt}", {node.village: s.ts}, gt=True)
                    elif s.node_id is None and village is not None:
                        pipe.zadd(f"{self.p}:reached:{village.town}", {village.code: s.ts}, gt=True)
            cc = a.contract_carrier or "unknown"
            for c in u.new_complaints:
                await self._complaint(
                    args=[self.p, c.complaint_id, china_day(c.ts), f"c|{town}|{cc}|{c.category}"],
                    client=pipe,
                )
            d = u.first_delivery
            if d is not None and village is not None:
                e2e = "" if u.end_to_end_h is None else f"{town}|{d.carrier}|{u.end_to_end_h:.4f}"
                remote = "true" if village.remote else "false"
                await self._delivery(
                    args=[
                        self.p,
                        pid,
                        china_day(d.ts),
                        f"d|{town}|{d.carrier}|{remote}",
                        e2e,
                        GATE_TTL_S,
                    ],
                    client=pipe,
                )
        await pipe.execute()
