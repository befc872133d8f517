"""Caps on open Server-Sent-Events streams, per API key and per process.

Each open stream holds one connection of a dedicated Redis pool while it waits for new
entries, so without a cap one key could take every connection and starve other tenants.
The counts are per process (replicas each apply the caps); a stream over a cap is refused
with 429 and ``Retry-After`` before anything is written.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator


class SlotsFull(Exception):
    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope  # "key" or "process"


class StreamSlots:
    def __init__(self, max_total: int, max_per_key: int) -> None:
        self.max_total = max_total
        self.max_per_key = max_per_key
        self._by_key: Counter[str] = Counter()
        self._total = 0

    @property
    def open(self) -> int:
        return self._total

    def of(self, key_id: str) -> int:
        return self._by_key[key_id]

    @contextlib.contextmanager
    def hold(self, key_id: str) -> Iterator[None]:
        """Hold one slot for `key_id` while the block runs; SlotsFull when none is free."""
        if self._by_key[key_id] >= self.max_per_key:
            raise SlotsFull("key")
        if self._total >= self.max_total:
            raise SlotsFull("process")
        self._by_key[key_id] += 1
        self._total += 1
        try:
            yield
        finally:
            self._total -= 1
            self._by_key[key_id] -= 1
            if self._by_key[key_id] <= 0:
                del self._by_key[key_id]
