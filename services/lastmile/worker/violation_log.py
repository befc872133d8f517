"""The idempotent gate: a live mirror of every violation id already on violations.v1.

The topic is the truth of what has been published. Each worker reads it from the start
(no consumer group) and keeps tailing it, so after a crash, a restart or a rebalance a
re-detected violation is recognised and not published again. The worker waits for the
mirror to catch up with the topic's end before it processes input.

The mirror also feeds what must count each violation exactly once: the Redis
projection (idempotent by id) and lastmile_violations_total. Each record names the
worker that published it (a stable id); a worker's counter is the number of records it
published, read back from the log. So it survives a restart, never goes down on a
rebalance, and the sum over workers is the number of violations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from lastmile.io.kafka import topic_partitions
from lastmile.io.kafka_access import KafkaAccess

log = logging.getLogger(__name__)

SOURCE_HEADER = "lastmile-source"  # topic:partition of the input that revealed it
PUBLISHER_HEADER = "lastmile-publisher"  # the stable id of the worker that published it
Labels = tuple[str, str, str, str, str]
Projector = Callable[[list[dict]], Awaitable[None]]


def violation_labels(v: dict) -> Labels:
    remote = v.get("remote")
    return (
        v["type"],
        v["rule"],
        v["carrier"],
        v.get("town") or "unknown",
        "unknown" if remote is None else str(bool(remote)).lower(),
    )


class ViolationLog:
    def __init__(
        self, kafka: KafkaAccess | str, topic: str, projector: Projector | None = None
    ) -> None:
        self.kafka = KafkaAccess.of(kafka)
        self.topic = topic
        self.ids: set[str] = set()
        self.counts: Counter[tuple[str, Labels]] = Counter()  # (publisher, labels) -> count
        self._projector = projector
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._progress = asyncio.Event()
        self._counted: set[str] = set()  # ids counted from the topic itself

    # -- gate ------------------------------------------------------------------------
    def seen(self, violation_id: str) -> bool:
        return violation_id in self.ids

    def claim(self, violation_id: str) -> bool:
        """True when the id is new (and mark it published); False when already out."""
        if violation_id in self.ids:
            return False
        self.ids.add(violation_id)
        return True

    def unclaim(self, violation_id: str) -> None:
        """Forget a claim whose publication failed (unless the log itself shows it)."""
        if violation_id not in self._counted:
            self.ids.discard(violation_id)

    # -- mirror ------------------------------------------------------------------------
    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            **self.kafka.client_kwargs(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await self._consumer.start()
        parts = await self._partitions()
        self._consumer.assign(parts)
        await self._consumer.seek_to_beginning(*parts)
        self._task = asyncio.create_task(self._run(), name="violation-log")

    async def _partitions(self) -> list[TopicPartition]:
        parts = await topic_partitions(self.kafka, self.topic, wait_s=10.0)
        if not parts:
            raise RuntimeError(f"topic {self.topic} not found: was it created?")
        return parts

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # the mirror must outlive a broker hiccup: retry
                log.exception("reading %s failed; retrying in 1 s", self.topic)
                await asyncio.sleep(1.0)

    async def _poll(self) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
        fresh: list[dict] = []
        for records in batches.values():
            for rec in records:
                self._absorb(rec.value, rec.headers, fresh)
        for tp in self._consumer.assignment():
            self._positions[tp] = await self._consumer.position(tp)
        while fresh and self._projector is not None:
            try:  # every violation reaches Redis: wait for it rather than skip
                await self._projector(fresh)
                break
            except Exception:
                log.exception("projecting %d violations to Redis failed; retrying", len(fresh))
                await asyncio.sleep(1.0)
        self._progress.set()

    def _absorb(
        self, value: bytes | None, headers: Iterable[tuple[str, bytes]], fresh: list[dict]
    ) -> None:
        if value is None:
            return
        try:
            v = orjson.loads(value)
            vid = v["violation_id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("unreadable record on %s skipped", self.topic)
            return
        publisher = next((h[1].decode() for h in headers if h[0] == PUBLISHER_HEADER), "unknown")
        key = (publisher, violation_labels(v))
        first_sight = vid not in self._counted
        if first_sight:
            self._counted.add(vid)
            self.counts[key] += 1
            fresh.append(v)
        self.ids.add(vid)

    async def end_offsets(self) -> dict[TopicPartition, int]:
        assert self._consumer is not None
        return await self._consumer.end_offsets(list(self._consumer.assignment()))

    async def backlog(self) -> int:
        """Records on the topic not mirrored yet (asks the broker: raises when it cannot)."""
        ends = await self.end_offsets()
        return sum(max(0, end - self._positions.get(tp, 0)) for tp, end in ends.items())

    async def catch_up(self, timeout: float = 120.0) -> None:
        """Wait until the mirror has read everything on the topic at the time of the call."""
        targets = await self.end_offsets()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(self._positions.get(tp, 0) < end for tp, end in targets.items() if end > 0):
            if loop.time() > deadline:
                raise TimeoutError(
                    f"violation log did not catch up with {self.topic} in {timeout}s"
                )
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout=1.0)

    def totals(self, publisher: str) -> list[tuple[Labels, int]]:
        """Violation counts by labels of the records one worker published."""
        return [(labels, n) for (who, labels), n in self.counts.items() if who == publisher]
