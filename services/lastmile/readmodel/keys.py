"""Every Redis key of lastmile, in one place.

Keys spread over Redis Cluster slots. A hash tag (``{...}``) is shared only where one Lua
script must touch several keys atomically:

- ``{<p>:v}``: the violation projection (document, indexes, rollup, stream) is one
  script gated on the document's ``HSETNX``; its keys share one slot.
- ``{<p>:d:<day>}``: one day's delivery gate, rollup and end-to-end times.
- ``{<p>:c:<day>}``: one day's complaint gate and rollup.
- ``{<p>:t<n>}``: the parcel timelines of shard ``n`` (of ``TIMELINE_SHARDS``): one script
  sets a batch's timelines of a shard, each with its own TTL, in one command (a ``SET`` per
  parcel cost the worker more than any other read-model write).

Everything else (parcels by day, coverage, brands, holds, the API's keys) is one key per
command and spreads freely.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

TIMELINE_SHARDS = 16  # changing it moves every timeline key: the reader would miss them


def timeline_shard(parcel_id: str) -> int:
    return zlib.crc32(parcel_id.encode()) % TIMELINE_SHARDS


@dataclass(frozen=True)
class Keys:
    prefix: str = "lm"

    def patterns(self) -> tuple[str, str]:
        """SCAN patterns that match every key of this prefix (tagged and plain)."""
        return (f"{self.prefix}:*", f"{{{self.prefix}:*")

    # -- violations (one slot: the projection script) --------------------------------
    @property
    def _v(self) -> str:
        return f"{{{self.prefix}:v}}"

    @property
    def violation_docs(self) -> str:
        """hash violation_id → violation.v1 JSON."""
        return f"{self._v}:doc"

    @property
    def violations_all(self) -> str:
        """zset violation ids by occurred_at."""
        return f"{self._v}:all"

    def violations_by_carrier(self, carrier: str) -> str:
        return f"{self._v}:carrier:{carrier}"

    def violations_by_town(self, town: str) -> str:
        return f"{self._v}:town:{town}"

    def violations_by_type(self, vtype: str) -> str:
        return f"{self._v}:type:{vtype}"

    def violations_of_parcel(self, parcel_id: str) -> str:
        """set of a parcel's violation ids."""
        return f"{self._v}:parcel:{parcel_id}"

    def violation_rollup(self, day: str) -> str:
        """hash town|carrier|type|rule → count, for one China day of occurred_at."""
        return f"{self._v}:roll:{day}"

    @property
    def violation_stream(self) -> str:
        """stream of new violations (id, carrier): SSE feeds and webhooks resume from it."""
        return f"{self._v}:stream"

    @property
    def carriers_with_violations(self) -> str:
        """set of carriers that have a by-carrier index (the case summary reads it)."""
        return f"{self._v}:carriers"

    # -- deliveries and complaints of one day (one slot each) ------------------------
    def delivery_gate(self, day: str) -> str:
        return f"{{{self.prefix}:d:{day}}}:gate"

    def delivery_rollup(self, day: str) -> str:
        """hash town|carrier|remote → first sign-offs."""
        return f"{{{self.prefix}:d:{day}}}:roll"

    def end_to_end(self, day: str) -> str:
        """hash parcel → town|carrier|hours."""
        return f"{{{self.prefix}:d:{day}}}:e2e"

    def complaint_gate(self, day: str) -> str:
        return f"{{{self.prefix}:c:{day}}}:ids"

    def complaint_rollup(self, day: str) -> str:
        """hash town|contract carrier|category → complaints."""
        return f"{{{self.prefix}:c:{day}}}:roll"

    # -- single-key families ----------------------------------------------------------
    def parcels_seen(self, day: str) -> str:
        """hash parcel → town|carrier, by the China day of its first scan."""
        return f"{self.prefix}:parcels:{day}"

    def parcel(self, parcel_id: str, shard: int | None = None) -> str:
        """string: the parcel's path (codec p1); the timeline is built from it on read.
        In the slot of its shard (one script per shard writes a batch's timelines);
        ``shard`` if the caller has it already (``timeline_shard(parcel_id)``)."""
        n = timeline_shard(parcel_id) if shard is None else shard
        return f"{{{self.prefix}:t{n}}}:parcel:{parcel_id}"

    def parcel_before_shards(self, parcel_id: str) -> str:
        """Where a timeline was kept before the shards; read as a fallback until the
        last of them expires (``retention_days`` after the upgrade)."""
        return f"{self.prefix}:parcel:{parcel_id}"

    def reached(self, town: str) -> str:
        """zset village → newest delivery time (coverage 通达率)."""
        return f"{self.prefix}:reached:{town}"

    def brands(self, town: str) -> str:
        """zset carrier → newest scan time at the town centre (brand fusion)."""
        return f"{self.prefix}:brands:{town}"

    # -- contract §7: outbound produce and data quality ---------------------------------
    def outbound(self, day: str) -> str:
        """hash parcel → outbound facts (JSON), by the China day of collection."""
        return f"{self.prefix}:out:{day}"

    def data_quality(self, day: str) -> str:
        """hash carrier|count → n (count: a data-quality counter or invalid:<reason>), by
        the China day of processing."""
        return f"{self.prefix}:dq:{day}"

    @property
    def points_seen(self) -> str:
        """zset village point → newest scan time (silent points)."""
        return f"{self.prefix}:pointseen"

    @property
    def data_clock(self) -> str:
        """zset first|newest → event time of the scans not ahead of processing time."""
        return f"{self.prefix}:dataclock"

    def holds(self, app_id: str) -> str:
        """zset partition|parcel → release time of held findings."""
        return f"{self.prefix}:holds:{app_id}"

    # -- the API's own records ---------------------------------------------------------
    def api_key(self, digest: str) -> str:
        return f"{self.prefix}:api:key:{digest}"

    @property
    def api_keys(self) -> str:
        return f"{self.prefix}:api:keys"

    @property
    def api_records(self) -> str:
        """SCAN pattern of the API's own records (keys, cases, webhooks, rate limits): what
        only Redis holds (docs/redis.md, backups)."""
        return f"{self.prefix}:api:*"

    def rate_limit(self, key_id: str) -> str:
        return f"{self.prefix}:api:rl:{key_id}"

    def webhook(self, carrier: str, kind: str = "") -> str:
        return (
            f"{self.prefix}:api:wh:{kind}:{carrier}" if kind else f"{self.prefix}:api:wh:{carrier}"
        )

    @property
    def webhook_carriers(self) -> str:
        return f"{self.prefix}:api:wh:carriers"

    def case(self, violation_id: str) -> str:
        return f"{self.prefix}:api:case:{violation_id}"

    @property
    def case_count(self) -> str:
        return f"{self.prefix}:api:cases:count"
