"""What the worker writes: one batch's facts and the violations of the log, idempotently.

Every counter moves behind a set-if-absent gate inside one Lua script (keys declared in
KEYS, in one hash-tag slot), so a replay, a restart or two workers projecting the same
violation count it once. One pipeline, one round trip, per call; within it one command
per key (or per slot, for the scripts), not one per parcel: a batch touches a few hundred
parcels but a few dozen keys.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from lastmile.pipeline.effects import ReadModelWrites
from lastmile.readmodel.codec import china_day, encode_path, rollup_field
from lastmile.readmodel.keys import Keys, timeline_shard
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

# KEYS: gate set, rollup hash, e2e hash (one day); ARGV: gate TTL, then per parcel:
# parcel, rollup field, end-to-end ('' if none)
_PROJECT_DELIVERIES = """
local n = 0
for i = 2, #ARGV, 3 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
    if ARGV[i + 2] ~= '' then redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2]) end
    n = n + 1
  end
end
if n > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# KEYS: gate hash, rollup hash (one day); ARGV: per complaint: id, rollup field
_PROJECT_COMPLAINTS = """
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
    n = n + 1
  end
end
return n
"""

# KEYS: timelines of one shard; ARGV: TTL, then the path of each key in order
_SET_TIMELINES = """
for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1]) end
return #KEYS
"""

# KEYS: one hash; ARGV: field, value, ...: each set only if absent (first scan wins)
_HSETNX_MANY = """
for i = 1, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 0
"""

_SCRIPTS = (
    _PROJECT_VIOLATION,
    _PROJECT_DELIVERIES,
    _PROJECT_COMPLAINTS,
    _SET_TIMELINES,
    _HSETNX_MANY,
)


def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


class ReadModelWriter:
    """Scripts are called by their SHA (``EVALSHA``) in the batch's pipeline and loaded
    only when Redis answers that it does not know one (first use, or a restarted Redis):
    redis-py's own script objects ask ``SCRIPT EXISTS`` before every pipeline, a round
    trip per batch."""

    def __init__(self, redis: Redis, keys: Keys, retention_days: float = 30) -> None:
        self.redis = redis
        self.keys = keys
        self.retention_s = int(retention_days * 86400)

    async def violations(self, items: Iterable[dict[str, Any]]) -> None:
        """Project violations (read from the violation log) in one pipeline."""
        batch = list(items)
        if batch:
            await self._execute(lambda pipe: self._queue_violations(pipe, batch))

    async def write(self, w: ReadModelWrites) -> None:
        """One batch's facts: paths, parcels by day, deliveries, complaints, coverage, brands."""
        if w:
            await self._execute(lambda pipe: self._queue(pipe, w))

    async def _execute(self, queue: Callable[[Any], None]) -> None:
        """One pipeline, one round trip; run again once the scripts are loaded if Redis
        did not know one (a restarted Redis). The commands that did run run twice: all are
        idempotent but the per-carrier data-quality counts, which count that batch twice,
        as a replayed batch does (contract §7 counts are at-least-once)."""
        for attempt in (1, 2):
            pipe = self.redis.pipeline(transaction=False)
            queue(pipe)
            try:
                await pipe.execute()
                return
            except NoScriptError:
                if attempt == 2:
                    raise
                for script in _SCRIPTS:
                    await self.redis.script_load(script)

    def _queue_violations(self, pipe: Any, batch: list[dict[str, Any]]) -> None:
        k = self.keys
        for v in batch:
            ts = datetime.fromisoformat(v["occurred_at"]).timestamp()
            town = v.get("town") or "unknown"
            vid, carrier = v["violation_id"], v["carrier"]
            keys = (
                k.violation_docs,
                k.violations_all,
                k.violations_by_carrier(carrier),
                k.violations_by_town(town),
                k.violations_by_type(v["type"]),
                k.violations_of_parcel(v["parcel_id"]),
                k.violation_rollup(china_day(ts)),
                k.violation_stream,
                k.carriers_with_violations,
            )
            rollup = rollup_field(town, carrier, v["type"], v["rule"])
            args = (vid, orjson.dumps(v), ts, rollup, carrier, STREAM_MAXLEN)
            pipe.evalsha(_VIOLATION, len(keys), *keys, *args)

    def _queue(self, pipe: Any, w: ReadModelWrites) -> None:
        k = self.keys
        shards: dict[int, list[Any]] = defaultdict(list)  # shard → keys then paths
        for pid, path in w.paths.items():
            shard = timeline_shard(pid)
            shards[shard].append((k.parcel(pid, shard), encode_path(path)))
        for pairs in shards.values():
            keys, paths = zip(*pairs, strict=True)
            pipe.evalsha(_TIMELINES, len(keys), *keys, self.retention_s, *paths)
        gone: dict[int, list[str]] = defaultdict(list)  # the state dropped them (event time)
        for pid in w.expired_paths:
            if pid not in w.paths:
                shard = timeline_shard(pid)
                gone[shard].append(k.parcel(pid, shard))
        for keys_of_shard in gone.values():  # one slot per shard; the TTL is a backstop
            pipe.delete(*keys_of_shard)
        seen: dict[str, list[str]] = defaultdict(list)
        for s in w.parcels_seen:
            seen[china_day(s.first_ts)] += (s.parcel_id, f"{s.town}|{s.carrier}")
        for day, args in seen.items():
            pipe.evalsha(_HSETNX, 1, k.parcels_seen(day), *args)
        for key, by_member in _newest_by_key(w.brands, k.brands).items():
            pipe.zadd(key, by_member, gt=True)
        for key, by_member in _newest_by_key(w.reached, k.reached).items():
            pipe.zadd(key, by_member, gt=True)
        complaints: dict[str, list[str]] = defaultdict(list)
        for c in w.complaints:
            complaints[china_day(c.ts)] += (
                c.complaint_id,
                rollup_field(c.town, c.contract_carrier, c.category),
            )
        for day, args in complaints.items():
            pipe.evalsha(_COMPLAINTS, 2, k.complaint_gate(day), k.complaint_rollup(day), *args)
        deliveries: dict[str, list[Any]] = defaultdict(list)
        for d in w.deliveries:
            e2e = "" if d.end_to_end_h is None else f"{d.town}|{d.carrier}|{d.end_to_end_h:.4f}"
            remote = "true" if d.remote else "false"
            deliveries[china_day(d.ts)] += (
                d.parcel_id,
                rollup_field(d.town, d.carrier, remote),
                e2e,
            )
        for day, args in deliveries.items():
            keys = (k.delivery_gate(day), k.delivery_rollup(day), k.end_to_end(day))
            pipe.evalsha(_DELIVERIES, 3, *keys, GATE_TTL_S, *args)
        if w.produce:
            queue_produce(pipe, k, w.produce)


(_VIOLATION, _DELIVERIES, _COMPLAINTS, _TIMELINES, _HSETNX) = map(_sha, _SCRIPTS)


def _newest_by_key(
    newest: dict[tuple[str, str], float], key_of: Callable[[str], str]
) -> dict[str, dict[str, float]]:
    """(group, member) → time, as one ``ZADD`` mapping per group's key."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for (group, member), ts in newest.items():
        out[key_of(group)][member] = ts
    return out
