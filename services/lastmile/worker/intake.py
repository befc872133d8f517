"""Batches of raw Kafka messages for the pipeline, without Faust's per-event stream.

An agent's stream wraps every message in an ``Event``, queues it, and walks it through
the stream iterator (a loop turn, context variables, sensors, an ack) one at a time; the
worker only ever wants a batch of raw bytes. A ``BatchTopic`` is a Faust topic like any
other (the conductor subscribes it, the assignor co-partitions it, offsets are committed
by Faust's consumer from acks), but the conductor hands its messages, undecoded, to a
``BatchBuffer``, and ``batches()`` takes them out a batch at a time.

What Faust's streams guarantee is kept, in the worker's own terms (ADR 0005):
- **acks:** a message is acked only after its batch's effects are done, so a commit never
  covers a message whose effects are not durable; an unfinished batch is read again by the
  partition's next owner;
- **rebalances:** a batch waits while a rebalance has suspended the flow and until the
  tables are recovered for the current consumer generation (worker/recovered.py: Faust
  can resume the flow before that), and a message fetched under an older consumer
  generation is dropped unacked: Faust seeks back to the committed offsets before it
  resumes the flow, so it is read again. The buffer is *not*
  cleared by Faust's flow control: Faust resumes the flow (which clears its own queues)
  after it has sought and resumed fetching, so a clear could drop messages of the new
  generation that the drain has already counted as read (they would never be processed);
- **back-pressure:** past ``maxsize`` buffered messages the conductor's delivery waits
  and Faust stops fetching the partition, until the worker has taken half of them;
- **in-flight tracking:** a batch's messages are registered as unacked while it runs, so a
  rebalance waits for the batch (Faust's ``wait_empty``) before moving its partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
from asyncio import Future
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import faust

from lastmile.worker.recovered import RecoveredTables


class BatchBuffer:
    """Messages delivered by the conductor, in arrival order, until a batch takes them."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: list[Any] = []
        self._arrived = asyncio.Event()  # at least one message waits
        self._enough = asyncio.Event()  # a full batch waits
        self._space = asyncio.Event()
        self._space.set()
        self._batch_size = maxsize
        self._on_drop: dict[Any, Callable[[], None]] = {}  # per partition: resume fetching

    def __len__(self) -> int:
        return len(self._items)

    # --- what Faust's conductor calls -------------------------------------------------
    def full(self) -> bool:
        return len(self._items) >= self.maxsize

    def put_nowait_enhanced(
        self,
        value: Any,
        *,
        on_pressure_high: Callable[[], None],
        on_pressure_drop: Callable[[], None],
    ) -> None:
        items = self._items
        items.append(value)
        self._arrived.set()
        n = len(items)
        if n >= self._batch_size:
            self._enough.set()
        if n >= self.maxsize:
            self._space.clear()
            if on_pressure_drop not in self._on_drop:
                on_pressure_high()  # Faust stops fetching this partition for now
                self._on_drop[on_pressure_drop] = on_pressure_drop

    async def put(self, value: Any) -> None:
        """A delivery that found the buffer full waits for room."""
        while self.full():
            self._space.clear()
            await self._space.wait()
        self._items.append(value)
        self._arrived.set()

    # --- what the worker calls --------------------------------------------------------
    async def take(self, max_n: int, within: float) -> list[Any]:
        """Up to ``max_n`` messages: waits for the first, then up to ``within`` s for more."""
        self._batch_size = max_n
        await self._arrived.wait()
        if len(self._items) < max_n:
            self._enough.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._enough.wait(), within)
        batch, self._items = self._items[:max_n], self._items[max_n:]
        if not self._items:
            self._arrived.clear()
        if len(self._items) < max_n:
            self._enough.clear()
        if len(self._items) <= self.maxsize // 2:
            self._released()
        return batch

    def _released(self) -> None:
        self._space.set()
        callbacks, self._on_drop = self._on_drop, {}
        for resume in callbacks.values():
            resume()


async def _message_itself(message: Any, *, propagate: bool = False) -> Any:
    return message


class BatchTopic(faust.Topic):  # type: ignore[misc]
    """A topic whose messages go, undecoded, into a ``BatchBuffer``."""

    buffer: BatchBuffer

    def _compile_decode(self) -> None:
        self.decode = _message_itself  # type: ignore[method-assign]

    @property
    def queue(self) -> Any:
        return self.buffer

    async def put(self, value: Any) -> None:
        await self.buffer.put(value)


def batch_topic(app: faust.App, *names: str, partitions: int, maxsize: int) -> BatchTopic:
    topic = BatchTopic(
        app,
        topics=list(names),
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        acks=True,
    )
    topic.buffer = BatchBuffer(maxsize)  # not managed by flow control: see the module doc
    app.topics.add(topic)  # the conductor subscribes it like an agent's topic
    return topic


async def batches(
    app: faust.App,
    topic: BatchTopic,
    max_n: int,
    within: float,
    recovered: RecoveredTables | None = None,
) -> AsyncIterator[list[Any]]:
    """Batches of current messages; the caller acks them with ``ack`` once done."""
    buffer = topic.buffer
    while True:
        taken = await buffer.take(max_n, within)
        await app.flow_control.acquire()  # a rebalance is moving partitions: wait for it
        if recovered is not None:
            await recovered.wait()  # the stores hold the current generation's state
        generation = app.consumer_generation_id
        current = [m for m in taken if m.generation_id == generation]
        if not current:
            continue  # all fetched before the last rebalance: read again from the commit
        unacked = app.consumer._unacked_messages  # type: ignore[attr-defined]
        for m in current:
            unacked.add(m)  # a rebalance now waits for this batch (Faust's wait_empty)
        yield current


def ack(app: faust.App, messages: list[Any]) -> None:
    """The batch's effects are durable: its offsets may be committed."""
    consumer = app.consumer
    for m in messages:
        m.ack(consumer)


Durable = Awaitable[None]  # resolves once a batch's stored state is durable
Finish = Callable[[], Awaitable[Durable]]  # a batch's second half: wait, store
Begin = Callable[[list[Any]], Awaitable[Finish]]  # its first half: decode, fold, hand over


async def nothing_left() -> Durable:
    """The ``Finish`` of a batch whose ``Begin`` did everything."""
    done: Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


async def run_intake(
    app: faust.App,
    topic: BatchTopic,
    begin: Begin,
    batching: tuple[int, float],
    fail: Callable[[BaseException], None],
    recovered: RecoveredTables | None = None,
) -> None:
    """Begin each batch while the previous one finishes; ack each once it is durable.

    At most two batches are under way, finished (stored, durable and acked) in order, so
    the wait for the broker's and Redis's acknowledgements of one batch overlaps the next
    batch's decoding and folding (ADR 0005). A batch stores its state only once the batch
    before it is durable. The first error goes to ``fail`` (which stops the worker) and
    ends the intake: nothing after it is acked. A stop lets what has begun finish (bounded
    to 30 s), so a batch is either durable and acked or not acked and read again.
    """

    async def finish_in_order(
        before: Future[None] | None, finish: Finish, batch: list[Any]
    ) -> None:
        if before is not None:
            await before  # its failure is this batch's too: neither is acked
        await (await finish())  # stored, then durable
        ack(app, batch)

    def failed(done: Future[None]) -> None:
        if not done.cancelled() and (exc := done.exception()) is not None:
            fail(exc)

    max_n, within = batching
    under_way: Future[None] | None = None
    try:
        async for batch in batches(app, topic, max_n, within, recovered):
            finish = await asyncio.shield(asyncio.ensure_future(begin(batch)))
            before = under_way
            under_way = asyncio.ensure_future(finish_in_order(before, finish, batch))
            under_way.add_done_callback(failed)
            if before is not None:
                await asyncio.shield(before)  # at most two batches under way
    except asyncio.CancelledError:
        if under_way is not None and not under_way.done():
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(under_way), timeout=30.0)
        raise
    except Exception as exc:
        fail(exc)


__all__ = [
    "BatchBuffer",
    "BatchTopic",
    "Begin",
    "Durable",
    "Finish",
    "ack",
    "batch_topic",
    "batches",
    "nothing_left",
    "run_intake",
]
