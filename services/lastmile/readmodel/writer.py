"""What the worker writes: one batch's facts and the violations of the log, idempotently.

Every counter moves behind a set-if-absent gate inside one Lua script (keys declared in
KEYS, in one hash-tag slot), so a replay, a restart or two workers projecting the same
violation count it once. One pipeline, one round trip, per call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from lastmile.pipeline.effects import ReadModelWrites
from lastmile.readmodel.codec import china_day, encode_path, rollup_field
from lastmile.readmodel.keys import Keys
from lastmile.readmodel.produce import queue_produce

GATE_TTL_S = 40 * 86400
STREAM_MAXLEN = 1_000_000

# KEYS: doc hash, all, by carrier, by town, by type, of parcel, rollup, stream, carriers
_PROJECT_VIOLATION = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local score = ARGV[3]
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('ZADD', KEYS[3], score, ARGV[1])
redis.call('ZADD', KEYS[4], score, ARGV[1])
redis.call('ZADD', KEYS[5], score, ARGV[1])
redis.call('SADD', KEYS[6], ARGV[1])
redis.call('HINCRBY', KEYS[7], ARGV[4], 1)
redis.call('XADD', KEYS[8], 'MAXLEN', '~', ARGV[6], '*', 'id', ARGV[1], 'carrier', ARGV[5])
redis.call('SADD', KEYS[9], ARGV[5])
return 1
"""

# KEYS: gate set, rollup hash, e2e hash
_PROJECT_DELIVERY = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
return 1
"""

# KEYS: gate hash, rollup hash
_PROJECT_COMPLAINT = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
return 1
"""


class ReadModelWriter:
    def __init__(self, redis: Redis, keys: Keys, retention_days: float = 30) -> None:
        self.redis = redis
        self.keys = keys
        self.retention_s = int(retention_days * 86400)
        self._violation = redis.register_script(_PROJECT_VIOLATION)
        self._delivery = redis.register_script(_PROJECT_DELIVERY)
        self._complaint = redis.register_script(_PROJECT_COMPLAINT)

    async def violations(self, items: Iterable[dict[str, Any]]) -> None:
        """Project violations (read from the violation log) in one pipeline."""
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        n = 0
        for v in items:
            ts = datetime.fromisoformat(v["occurred_at"]).timestamp()
            town = v.get("town") or "unknown"
            vid, carrier = v["violation_id"], v["carrier"]
            await self._violation(
                keys=[
                    k.violation_docs,
                    k.violations_all,
                    k.violations_by_carrier(carrier),
                    k.violations_by_town(town),
                    k.violations_by_type(v["type"]),
                    k.violations_of_parcel(v["parcel_id"]),
                    k.violation_rollup(china_day(ts)),
                    k.violation_stream,
                    k.carriers_with_violations,
                ],
                args=[
                    vid,
                    orjson.dumps(v),
                    ts,
                    rollup_field(town, carrier, v["type"], v["rule"]),
                    carrier,
                    STREAM_MAXLEN,
                ],
                client=pipe,
            )
            n += 1
        if n:
            await pipe.execute()

    async def write(self, w: ReadModelWrites) -> None:
        """One batch's facts: paths, parcels by day, deliveries, complaints, coverage, brands."""
        if not w:
            return
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        for pid, path in w.paths.items():
            pipe.set(k.parcel(pid), encode_path(path), ex=self.retention_s)
        for pid in w.expired_paths:  # the state dropped it (event time); the TTL is a backstop
            if pid not in w.paths:
                pipe.delete(k.parcel(pid))
        for s in w.parcels_seen:
            pipe.hsetnx(k.parcels_seen(china_day(s.first_ts)), s.parcel_id, f"{s.town}|{s.carrier}")
        for (town, carrier), ts in w.brands.items():
            pipe.zadd(k.brands(town), {carrier: ts}, gt=True)
        for (town, village), ts in w.reached.items():
            pipe.zadd(k.reached(town), {village: ts}, gt=True)
        for c in w.complaints:
            day = china_day(c.ts)
            await self._complaint(
                keys=[k.complaint_gate(day), k.complaint_rollup(day)],
                args=[c.complaint_id, rollup_field(c.town, c.contract_carrier, c.category)],
                client=pipe,
            )
        for d in w.deliveries:
            day = china_day(d.ts)
            e2e = "" if d.end_to_end_h is None else f"{d.town}|{d.carrier}|{d.end_to_end_h:.4f}"
            await self._delivery(
                keys=[k.delivery_gate(day), k.delivery_rollup(day), k.end_to_end(day)],
                args=[
                    d.parcel_id,
                    rollup_field(d.town, d.carrier, "true" if d.remote else "false"),
                    e2e,
                    GATE_TTL_S,
                ],
                client=pipe,
            )
        if w.produce:
            queue_produce(pipe, k, w.produce)
        await pipe.execute()
