"""Run-time state of one worker: event-time watermark, open hops, parcel expiry.

Only the pipeline's steps advance it. It lives in memory: after a restart the watermark
starts again from the first batch, and parcels restored from the changelog join the
stuck-parcel gauge when they are next touched, and the expiry index then or when the
worker's walk of a newly assigned partition's store reaches them (worker/expiry_sweep.py).
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple


class OpenHop(NamedTuple):
    """Where an unfinished inbound parcel waits: the stuck-parcel gauge counts these."""

    tier: str
    town: str
    since: float
    partition: int


class ExpiryIndex:
    """Parcels by the time of their newest event, to drop them after the retention period.

    One heap entry per parcel per partition; an entry whose parcel was touched since it
    was pushed is pushed again with the newer time when it comes up.
    """

    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[float, str]]] = {}
        self._latest: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._latest)

    def __contains__(self, parcel_id: object) -> bool:
        return parcel_id in self._latest

    def touch(self, partition: int, parcel_id: str, last_ts: float) -> None:
        known = self._latest.get(parcel_id)
        self._latest[parcel_id] = last_ts if known is None else max(known, last_ts)
        if known is None:
            heapq.heappush(self._heaps.setdefault(partition, []), (last_ts, parcel_id))

    def forget(self, parcel_id: str) -> None:
        self._latest.pop(parcel_id, None)  # its heap entry is dropped when it comes up

    def expired(self, partition: int, horizon: float) -> list[str]:
        """Parcels of a partition whose newest event is before ``horizon`` (drop them now)."""
        heap = self._heaps.get(partition, [])
        out: list[str] = []
        while heap and heap[0][0] < horizon:
            ts, pid = heapq.heappop(heap)
            latest = self._latest.get(pid)
            if latest is None:
                continue
            if latest > ts:
                heapq.heappush(heap, (latest, pid))
                continue
            del self._latest[pid]
            out.append(pid)
        return out

    def drop_partition(self, partition: int) -> None:
        """A partition moved to another worker: its parcels leave this index."""
        for _, pid in self._heaps.pop(partition, []):
            self._latest.pop(pid, None)


@dataclass
class RunState:
    watermark: float = 0.0  # newest event time seen (drives retention and "now" of gauges)
    # scans dated after this (a clock running ahead: contract §7) never move the watermark;
    # the worker sets it per batch to processing time + clock_skew_s
    ceiling: float = float("inf")
    open_hops: dict[str, OpenHop] = field(default_factory=dict)
    expiry: ExpiryIndex = field(default_factory=ExpiryIndex)

    def drop_partition(self, partition: int) -> None:
        """A partition moved to another worker: forget what this worker knew of it."""
        self.expiry.drop_partition(partition)
        gone = [pid for pid, h in self.open_hops.items() if h.partition == partition]
        for pid in gone:
            del self.open_hops[pid]

    def stuck(self, stuck_hours: float) -> Counter[tuple[str, str]]:
        """Open hops older than ``stuck_hours`` at the watermark, by (tier, town)."""
        limit = self.watermark - stuck_hours * 3600
        return Counter((h.tier, h.town) for h in self.open_hops.values() if h.since < limit)
