"""Where the worker's consumer reads next: never past a record it has not delivered.

aiokafka moves a partition's fetch position past the records it hands over. Faust's
``getmany`` then drops, without a trace, the records of a partition that left its active
set while they were being delivered (recovery pauses and resumes partitions, a buffer
fills), and the rest of a batch when the flow stops or the generation changes. It counts
on a seek to put them back, and none comes for:

- an input partition without a committed offset (aiokafka's ``seek_to_committed`` leaves
  it where it is): a worker that took over a killed worker's partition dropped its offsets
  0-769 this way, and the churn test lost the 393 the killed worker had not folded;
- a changelog partition being read into a standby or recovering store: its later records
  were applied and its persisted offset moved past the dropped ones, so the store lacked
  them and the next owner folded scans onto paths that were not there (the churn test
  lost violations to paths rewritten with only their latest scans). Faust's changelog
  queue, cleared when the flow resumes, dropped such records too: the worker keeps no
  standby stores (ADR 0003).

So the consumer thread notes each partition's position after a fetch
(``PositionNotingThread``), and a partition whose records were not all delivered is
rewound to the first one left, unless something has moved it since (a seek, a new
assignment): then that move decides (``rewind_unmoved``). (Seeking a never-committed
input partition back to its start at every seek to the committed offsets, the first fix
tried, is not needed with this, and would re-read records already delivered in the same
generation: dead letters and counters twice.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka


def _assignment(client: Any) -> Any:
    subscription = client._subscription.subscription
    return None if subscription is None else subscription.assignment


def positions(client: Any, tps: Any) -> dict[Any, int]:
    """The fetch positions of ``tps`` now (on the consumer's thread)."""
    assignment = _assignment(client)
    out: dict[Any, int] = {}
    if assignment is None:
        return out
    for tp in tps:
        if tp in assignment.tps:
            state = assignment.state_value(tp)
            if state.has_valid_position:
                out[tp] = state.position
    return out


def rewind_unmoved(client: Any, rewinds: Mapping[Any, tuple[int, int]]) -> list[Any]:
    """On the consumer's thread: each partition back to its first undelivered offset, if
    its position is still the one noted after the fetch. ``rewinds``: partition ->
    (first undelivered offset, position after the fetch). Returns those rewound."""
    now = positions(client, rewinds)
    done = []
    for tp, (first, noted) in rewinds.items():
        if now.get(tp) == noted:
            client.seek(tp, first)
            done.append(tp)
    return done


class PositionNotingThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, noting the positions each fetch leaves its partitions at."""

    after_fetch: dict[Any, int] = {}  # noqa: RUF012 (replaced, never mutated)

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: Any,
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        records = await super()._fetch_records(
            consumer, active_partitions, timeout=timeout, max_records=max_records
        )
        self.after_fetch = positions(consumer, records) if records else {}
        return records


__all__ = [
    "PositionNotingThread",
    "positions",
    "rewind_unmoved",
]
