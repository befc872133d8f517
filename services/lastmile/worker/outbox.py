"""The Kafka outputs: violations, dead letters and sign-offs by courier, via Faust topics.

Sends go straight to the producer (``force=True``), not attached to the input event: the
runner waits for the broker's acknowledgements before it stores the batch's state, which
is what makes a replay harmless (ADR 0001), and findings go out as soon as the batch is
done rather than at the next offset commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import orjson

from lastmile.io.codec import encode_signoffs
from lastmile.pipeline.records import COMPLAINTS, DeadLetter, SignoffRecord
from lastmile.worker.violation_log import PUBLISHER_HEADER, SOURCE_HEADER

REASON_HEADER, DETAIL_HEADER, OFFSET_HEADER = (
    "lastmile-reason",
    "lastmile-detail",
    "lastmile-offset",
)


class FaustOutbox:
    def __init__(self, topics: Mapping[str, Any], names: Any, worker_id: str) -> None:
        self.topics = topics  # topic name → Faust topic; looked up at send time (tests swap)
        self.names = names
        self._publisher = worker_id.encode()

    async def _send(self, name: str, key: bytes | None, value: bytes, headers: Any) -> Any:
        """Hand a message to the producer; returns the future of the broker's ack."""
        return await self.topics[name].send(key=key, value=value, headers=headers, force=True)

    async def violation(self, violation: dict[str, Any], source: str) -> Awaitable[Any]:
        headers = [(SOURCE_HEADER, source.encode()), (PUBLISHER_HEADER, self._publisher)]
        key, value = violation["carrier"].encode(), orjson.dumps(violation)
        return await self._send(self.names.violations, key, value, headers)

    async def dead_letter(self, letter: DeadLetter) -> Awaitable[Any]:
        topic = self.names.complaints if letter.kind == COMPLAINTS else self.names.scans
        headers = [
            (REASON_HEADER, letter.reason.encode()),
            (DETAIL_HEADER, letter.detail.encode()),
            (OFFSET_HEADER, letter.origin.encode()),
        ]
        return await self._send(self.names.dlq(topic), letter.key, letter.value, headers)

    async def signoffs(self, courier_id: str, records: list[SignoffRecord]) -> Awaitable[Any]:
        value = encode_signoffs(records)
        return await self._send(self.names.signoffs, courier_id.encode(), value, None)
