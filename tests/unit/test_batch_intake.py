"""The worker's batch intake (worker/intake.py, ADR 0005) without a broker.

The buffer is what Faust's conductor delivers into; ``batches`` is what the worker reads.
These tests pin the guarantees the ADR lists: batching, back-pressure, dropping messages
of an older consumer generation, waiting out a rebalance, tracking a batch in flight.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from mode.utils.queues import FlowControlEvent

from lastmile.worker.intake import BatchBuffer, ack, batches, run_intake
from lastmile.worker.recovered import RecoveredTables


@dataclass(eq=False)
class Message:
    offset: int
    generation_id: int = 1
    acked_by: list[Any] = field(default_factory=list)

    def ack(self, consumer: Any) -> None:
        self.acked_by.append(consumer)


class Pressure:
    def __init__(self) -> None:
        self.high = 0
        self.drop = 0

    def on_high(self) -> None:
        self.high += 1

    def on_drop(self) -> None:
        self.drop += 1


def deliver(buffer: BatchBuffer, messages: list[Message], pressure: Pressure) -> None:
    for m in messages:
        buffer.put_nowait_enhanced(
            m, on_pressure_high=pressure.on_high, on_pressure_drop=pressure.on_drop
        )


async def test_a_full_batch_is_taken_at_once_and_the_rest_waits_for_the_next():
    buffer, pressure = BatchBuffer(maxsize=100), Pressure()
    deliver(buffer, [Message(i) for i in range(7)], pressure)
    first = await asyncio.wait_for(buffer.take(5, within=10.0), 1.0)  # no wait: 5 are there
    assert [m.offset for m in first] == [0, 1, 2, 3, 4]
    second = await buffer.take(5, within=0.01)  # only 2 left: waits `within`, then takes them
    assert [m.offset for m in second] == [5, 6]


async def test_a_partial_batch_leaves_after_the_window_and_the_first_message_is_awaited():
    buffer, pressure = BatchBuffer(maxsize=100), Pressure()
    taking = asyncio.ensure_future(buffer.take(10, within=0.02))
    await asyncio.sleep(0.05)
    assert not taking.done(), "nothing arrived: the worker waits"
    deliver(buffer, [Message(1)], pressure)
    assert [m.offset for m in await asyncio.wait_for(taking, 1.0)] == [1]


async def test_past_maxsize_faust_is_told_to_stop_fetching_until_half_is_taken():
    buffer, pressure = BatchBuffer(maxsize=4), Pressure()
    deliver(buffer, [Message(i) for i in range(4)], pressure)
    assert buffer.full() and pressure.high == 1
    waiting_delivery = asyncio.ensure_future(buffer.put(Message(4)))
    await asyncio.sleep(0.01)
    assert not waiting_delivery.done(), "a delivery into a full buffer waits"
    await buffer.take(2, within=0.0)
    await asyncio.wait_for(waiting_delivery, 1.0)
    assert pressure.drop == 1, "fetching resumes once half is taken"
    assert [m.offset for m in await buffer.take(10, within=0.0)] == [2, 3, 4]


@dataclass
class Consumer:
    _unacked_messages: set[Any] = field(default_factory=set)


@dataclass
class App:
    consumer: Consumer = field(default_factory=Consumer)
    consumer_generation_id: int = 2
    flow_control: FlowControlEvent = field(default_factory=FlowControlEvent)


@dataclass
class Topic:
    buffer: BatchBuffer


async def test_messages_of_an_older_generation_are_dropped_unacked_and_a_batch_is_tracked():
    app, pressure = App(), Pressure()
    app.flow_control.resume()
    topic = Topic(BatchBuffer(maxsize=100))
    old, current = Message(0, generation_id=1), Message(1, generation_id=2)
    deliver(topic.buffer, [old, current], pressure)
    stream = batches(app, topic, 10, 0.0)  # type: ignore[arg-type]
    batch = await asyncio.wait_for(stream.__anext__(), 1.0)
    assert batch == [current], "fetched before the rebalance: read again from the commit"
    assert app.consumer._unacked_messages == {current}, "a rebalance waits for this batch"
    ack(app, batch)  # type: ignore[arg-type]
    assert current.acked_by == [app.consumer] and old.acked_by == []


async def test_a_batch_waits_while_a_rebalance_has_suspended_the_flow():
    app, pressure = App(), Pressure()
    app.flow_control.suspend()
    topic = Topic(BatchBuffer(maxsize=100))
    deliver(topic.buffer, [Message(0, generation_id=2)], pressure)
    stream = batches(app, topic, 10, 0.0)  # type: ignore[arg-type]
    pending = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.02)
    assert not pending.done()
    app.flow_control.resume()
    assert [m.offset for m in await asyncio.wait_for(pending, 1.0)] == [0]


class Recovery:
    """What RecoveredTables wraps: Faust's recovery, whose completion names its generation."""

    def __init__(self) -> None:
        self.completions: list[int] = []

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.completions.append(generation_id)


@dataclass
class Tables:
    recovery: Recovery = field(default_factory=Recovery)


@dataclass
class RecoveringApp(App):
    tables: Tables = field(default_factory=Tables)


async def test_a_batch_waits_until_the_tables_are_recovered_for_its_generation():
    app, pressure = RecoveringApp(), Pressure()
    recovered = RecoveredTables(app)
    recovered.install()
    await app.tables.recovery.on_recovery_completed(2)  # generation 2 recovered ...
    app.consumer_generation_id = 3  # ... then a rebalance assigned generation 3
    app.flow_control.resume()  # and the older completion resumed the flow (Faust's race)
    topic = Topic(BatchBuffer(maxsize=100))
    deliver(topic.buffer, [Message(0, generation_id=3)], pressure)
    stream = batches(app, topic, 10, 0.0, recovered)  # type: ignore[arg-type]
    pending = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.05)
    assert not pending.done(), "generation 3's stores are not recovered: the batch waits"
    await app.tables.recovery.on_recovery_completed(3)
    assert [m.offset for m in await asyncio.wait_for(pending, 1.0)] == [0]
    assert app.tables.recovery.completions == [2, 3], "Faust's own completion still runs"


def test_a_recovery_that_completes_after_a_newer_generation_began_does_not_count():
    app = RecoveringApp(consumer_generation_id=4)
    recovered = RecoveredTables(app)
    recovered.completed(3)
    assert not recovered.current() and recovered.generation is None
    recovered.completed(4)
    assert recovered.current()
    app.consumer_generation_id = 5  # the next rebalance: current again only once recovered
    assert not recovered.current()


def two_batches() -> tuple[Any, Pressure, Any, tuple[Message, Message], dict[int, Any]]:
    """An app whose flow runs, a topic, two one-message batches and a future per batch
    that the test resolves when the batch's state is to become durable."""
    app = App()
    app.flow_control.resume()
    loop = asyncio.get_running_loop()
    durable = {0: loop.create_future(), 1: loop.create_future()}
    messages = (Message(0, generation_id=2), Message(1, generation_id=2))
    return app, Pressure(), Topic(BatchBuffer(maxsize=100)), messages, durable


async def test_a_batch_stores_only_once_the_previous_one_is_durable_and_acks_follow_in_order():
    """The second batch is begun while the first finishes, but stores its state only once
    the first one's is durable (ADR 0005); each is acked once its own state is durable."""
    app, pressure, topic, (first, second), durable = two_batches()
    events: list[str] = []

    async def begin(batch: list[Message]) -> Any:
        n = batch[0].offset
        events.append(f"begin {n}")

        async def finish() -> Any:
            events.append(f"store {n}")
            return durable[n]

        return finish

    intake = asyncio.ensure_future(
        run_intake(app, topic, begin, (1, 0.0), lambda exc: events.append(f"fail {exc}"))  # type: ignore[arg-type]
    )
    deliver(topic.buffer, [first], pressure)
    await asyncio.sleep(0.02)
    deliver(topic.buffer, [second], pressure)
    await asyncio.sleep(0.02)
    assert events == ["begin 0", "store 0", "begin 1"], "stored before the first was durable"
    assert first.acked_by == [] and second.acked_by == []
    durable[0].set_result(None)
    await asyncio.sleep(0.02)
    assert events[-1] == "store 1" and first.acked_by == [app.consumer] and second.acked_by == []
    durable[1].set_result(None)
    await asyncio.sleep(0.02)
    assert second.acked_by == [app.consumer]
    intake.cancel()


async def test_a_batch_whose_state_never_became_durable_stops_everything_after_it():
    app, pressure, topic, (first, second), durable = two_batches()
    failures: list[BaseException] = []

    async def begin(batch: list[Message]) -> Any:
        async def finish() -> Any:
            return durable[batch[0].offset]

        return finish

    intake = asyncio.ensure_future(run_intake(app, topic, begin, (1, 0.0), failures.append))  # type: ignore[arg-type]
    deliver(topic.buffer, [first, second], pressure)
    await asyncio.sleep(0.02)
    durable[0].set_exception(ConnectionError("changelog not acknowledged"))
    durable[1].set_result(None)
    await asyncio.sleep(0.02)
    assert first.acked_by == [] and second.acked_by == [], "nothing after the failure is acked"
    assert failures and isinstance(failures[0], ConnectionError)
    intake.cancel()
