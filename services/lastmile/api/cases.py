"""Case state of each violation: open -> acknowledged / disputed -> upheld / dismissed.

A violation without a case record is ``open``. The carrier acknowledges it or disputes it
(with a reason; an acknowledged case may still be disputed). The regulator decides any
case that is not yet decided (``upheld`` or ``dismissed``, with a note): for a disputed
case that answers the dispute, for an open or acknowledged one it closes the case. A
decision is final. Each transition runs in one Lua script, so concurrent requests cannot
both move a case, and the per-state counters stay exact.

Keys (prefix p):
  {p}:api:case:{violation_id}      hash  state, carrier, updated_at
  {p}:api:case:{violation_id}:log  list  JSON history {at, action, to, by, role, reason|note}
  {p}:api:cases:count              hash  "{carrier}|{state}" -> cases in that state (not open)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from lastmile.api.auth import Principal
from lastmile.readmodel.keys import Keys

STATES = ("open", "acknowledged", "disputed", "upheld", "dismissed")
UNDECIDED = ("open", "acknowledged", "disputed")

_TRANSITION = """
local cur = redis.call('HGET', KEYS[1], 'state') or 'open'
local carrier, allowed, new, entry, now, idem = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if cur == new and idem == '1' then return {'same', cur} end
local ok = false
for s in string.gmatch(allowed, '[^,]+') do if s == cur then ok = true end end
if not ok then return {'conflict', cur} end
redis.call('HSET', KEYS[1], 'state', new, 'carrier', carrier, 'updated_at', now)
redis.call('RPUSH', KEYS[2], entry)
if cur ~= 'open' then redis.call('HINCRBY', KEYS[3], carrier .. '|' .. cur, -1) end
redis.call('HINCRBY', KEYS[3], carrier .. '|' .. new, 1)
return {'ok', cur}
"""


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    allowed_from: tuple[str, ...]
    idempotent: bool  # repeating it on a case already in the target state is a no-op


ACK = Action("ack", ("open",), True)
DISPUTE = Action("dispute", ("open", "acknowledged"), False)
DECIDE = Action("decision", UNDECIDED, False)


class TransitionRefused(Exception):
    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class CaseStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.p = prefix
        self._script = redis.register_script(_TRANSITION)

    def _key(self, vid: str) -> str:
        return Keys(self.p).case(vid)

    @property
    def _counts(self) -> str:
        return Keys(self.p).case_count

    async def states(self, vids: list[str]) -> list[dict[str, Any]]:
        """{state, updated_at} of each violation, in order."""
        if not vids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for vid in vids:
            pipe.hmget(self._key(vid), ["state", "updated_at"])
        rows = await pipe.execute()
        return [{"state": s or "open", "updated_at": u} for s, u in rows]

    async def case(self, vid: str) -> dict[str, Any]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(self._key(vid), ["state", "updated_at"])
        pipe.lrange(self._key(vid) + ":log", 0, -1)
        (state, updated), log = await pipe.execute()
        return {
            "state": state or "open",
            "updated_at": updated,
            "history": [orjson.loads(e) for e in log],
        }

    async def transition(
        self, vid: str, carrier: str, action: Action, to: str, by: Principal, text: dict[str, str]
    ) -> bool:
        """Move the case; False if it already was in `to` (idempotent actions).

        Raises TransitionRefused when the current state does not allow the action.
        """
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        entry = {
            "at": now,
            "action": action.name,
            "to": to,
            "by": by.key_id,
            "role": by.role,
            **text,
        }
        result, current = await self._script(
            keys=[self._key(vid), self._key(vid) + ":log", self._counts],
            args=[
                carrier,
                ",".join(action.allowed_from),
                to,
                orjson.dumps(entry),
                now,
                "1" if action.idempotent else "0",
            ],
        )
        if result == "conflict":
            raise TransitionRefused(current)
        return bool(result == "ok")

    async def summary(self, carrier: str | None) -> dict[str, Any]:
        """Counts by state, overall and per carrier (open = violations without a later state)."""
        p = self.p
        if carrier is not None:
            carriers = [carrier]
        else:
            # the set the violation projection keeps: no scan of the keyspace
            carriers = sorted(await self.redis.smembers(Keys(p).carriers_with_violations))  # type: ignore[misc]
        pipe = self.redis.pipeline(transaction=False)
        for c in carriers:
            pipe.zcard(Keys(p).violations_by_carrier(c))
        pipe.hgetall(self._counts)
        *totals, counts = await pipe.execute()
        by_carrier: dict[str, dict[str, Any]] = {}
        overall = dict.fromkeys(STATES, 0)
        for c, total in zip(carriers, totals, strict=True):
            states = {s: max(0, int(counts.get(f"{c}|{s}", 0))) for s in STATES[1:]}
            states = {"open": max(0, total - sum(states.values())), **states}
            by_carrier[c] = {"total": total, "by_state": states}
            for s, n in states.items():
                overall[s] += n
        return {"total": sum(overall.values()), "by_state": overall, "by_carrier": by_carrier}
