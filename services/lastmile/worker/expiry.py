"""Retention of parcel state: drop a parcel once its last event is older than the period.

Time is event time (the newest event the worker has seen), so replaying old traffic keeps
the same state a live run had. One heap entry per parcel, refreshed when it comes up.
The index lives in memory: parcels restored from the changelog after a restart join it when
they are next touched (and are dropped then if expired, by ``apply_batch``).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable


class ExpiryIndex:
    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[float, str]]] = {}
        self._known: set[str] = set()

    def __len__(self) -> int:
        return len(self._known)

    def touch(self, partition: int, parcels: Iterable[tuple[str, float]]) -> None:
        """Note parcels (id, last event time) just stored in a partition."""
        heap = self._heaps.setdefault(partition, [])
        for pid, last_ts in parcels:
            if pid not in self._known:
                self._known.add(pid)
                heapq.heappush(heap, (last_ts, pid))

    def expired(
        self, partition: int, horizon: float, last_ts_of: Callable[[str], float | None]
    ) -> list[str]:
        """Parcels of a partition whose last event is before ``horizon`` (to delete now)."""
        heap = self._heaps.get(partition, [])
        out: list[str] = []
        while heap and heap[0][0] < horizon:
            _, pid = heapq.heappop(heap)
            current = last_ts_of(pid)
            if current is not None and current >= horizon:
                heapq.heappush(heap, (current, pid))  # touched since it was noted
                continue
            self._known.discard(pid)
            if current is not None:
                out.append(pid)
        return out
