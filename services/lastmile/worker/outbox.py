"""The Kafka outputs: violations, dead letters and sign-offs by courier.

A batch's messages are queued, then handed to the producer together (``send``): one Kafka
record batch per topic partition (worker/batch_send.py), each message partitioned by its
key as a keyed ``send`` would be. Every message returns the future of its topic's
acknowledgement: the runner waits for the broker's acknowledgements before it stores the
batch's state, which is what makes a replay harmless (ADR 0001), and findings go out as
soon as the batch is done rather than at the next offset commit.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from lastmile.io.codec import encode_signoffs
from lastmile.pipeline.records import COMPLAINTS, DeadLetter, SignoffRecord
from lastmile.worker.batch_send import Record, partition_of, send_batches
from lastmile.worker.violation_log import PUBLISHER_HEADER, SOURCE_HEADER

REASON_HEADER, DETAIL_HEADER, OFFSET_HEADER = (
    "lastmile-reason",
    "lastmile-detail",
    "lastmile-offset",
)


class KafkaOutbox:
    def __init__(self, producer: Callable[[], Any], names: Any, worker_id: str) -> None:
        self.producer = producer  # → the (aiokafka) producer; asked at send time
        self.names = names
        self._publisher = worker_id.encode()
        self._queued: dict[str, list[Record]] = {}
        self._acks: dict[str, asyncio.Future[None]] = {}  # topic → its queued messages' ack

    def _queue(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]] | None
    ) -> Awaitable[None]:
        ack = self._acks.get(topic)
        if ack is None:
            ack = self._acks[topic] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(topic, []).append((key, value, headers))
        return ack

    async def violation(self, violation: dict[str, Any], source: str) -> Awaitable[None]:
        headers = [(SOURCE_HEADER, source.encode()), (PUBLISHER_HEADER, self._publisher)]
        key, value = violation["carrier"].encode(), orjson.dumps(violation)
        return self._queue(self.names.violations, key, value, headers)

    async def dead_letter(self, letter: DeadLetter) -> Awaitable[None]:
        topic = self.names.complaints if letter.kind == COMPLAINTS else self.names.scans
        headers = [
            (REASON_HEADER, letter.reason.encode()),
            (DETAIL_HEADER, letter.detail.encode()),
            (OFFSET_HEADER, letter.origin.encode()),
        ]
        return self._queue(self.names.dlq(topic), letter.key, letter.value, headers)

    async def signoffs(self, courier_id: str, records: list[SignoffRecord]) -> Awaitable[None]:
        value = encode_signoffs(records)
        return self._queue(self.names.signoffs, courier_id.encode(), value, None)

    async def send(self) -> None:
        """Hand everything queued to the producer; each topic's future resolves when the
        broker has acknowledged all of that topic's messages (or fails with the error)."""
        queued, acks = self._queued, self._acks
        self._queued, self._acks = {}, {}
        producer = self.producer()
        for topic, records in queued.items():
            ack = acks[topic]
            try:
                partitions = len(await producer.partitions_for(topic))
                by_partition: dict[int, list[Record]] = {}
                for record in records:
                    key = record[0]
                    p = partition_of(key, partitions) if key else random.randrange(partitions)
                    by_partition.setdefault(p, []).append(record)
                sent = await send_batches(producer, topic, by_partition)
            except Exception as exc:  # the batch fails where it waits for this ack
                ack.set_exception(exc)
                continue
            _resolve_when_all(ack, [b.future for b in sent])


def _resolve_when_all(ack: asyncio.Future[None], futures: list[Any]) -> None:
    def done(all_of: asyncio.Future[Any]) -> None:
        if ack.done():
            return
        exc = None if all_of.cancelled() else all_of.exception()
        if all_of.cancelled():
            ack.cancel()
        elif exc is not None:
            ack.set_exception(exc)
        else:
            ack.set_result(None)

    asyncio.gather(*futures).add_done_callback(done)
