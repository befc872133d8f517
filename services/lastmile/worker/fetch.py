"""How fetched records reach the conductor: one plain await per message, not four tasks.

Faust's consumer hands each fetched message to the conductor through
``Service.wait_first(callback(message), suspend_flow.wait())``, which creates four tasks
and an ``asyncio.wait`` per message so that a delivery blocked when a rebalance begins can
be abandoned. Measured here, that costs about as much as everything else in Faust's intake
together (docs/benchmarks.md, ADR 0005). This consumer awaits the delivery directly while
the flow runs, and keeps the abandonable race only while a rebalance has suspended it.
Read offsets per partition and ``commit_every`` are kept as Faust keeps them, except
that a delivery that waited through a rebalance does not record its (stale) offset, since
Faust has sought back to the committed offsets meanwhile; holes are handled below.

**Nothing fetched is skipped.** ``getmany`` rewinds a partition whose fetched records
it did not all hand over (worker/positions.py says why: the churn test lost messages and
state to Faust's silent drops). A jump in offsets that still reaches the drain (a message
more than one offset after the last one delivered), which Faust counts as a hole
(compaction, a transaction's marker) and lets commits cover, seeks the partition back to
the first missing offset instead: our input topics have no holes. Only a second jump to
the same offset is taken as one (records deleted by retention).

``LastmileApp`` is a ``faust.App`` whose consumer transport uses this consumer; nothing
else about the app changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka

from lastmile.worker.positions import PositionNotingThread, rewind_unmoved

log = logging.getLogger(__name__)


class DirectDeliveryConsumer(faust_aiokafka.Consumer):
    _jumped: dict[Any, int]  # partition -> the offset it jumped to when it was sought back

    def _new_consumer_thread(self) -> PositionNotingThread:
        return PositionNotingThread(self, loop=self.loop, beacon=self.beacon)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        """Faust's ``getmany``, except that what it does not hand over is fetched again.

        Records are handed over while the flow runs, the generation is the one they were
        fetched under and their partition is active (or buffered), as Faust does; every
        record after the first one left of a partition is left too, and the partition is
        rewound to that first one (worker/positions.py).
        """
        records, active = await self._wait_next_records(timeout)
        thread: Any = self._thread
        noted = thread.after_fetch
        generation = self.app.consumer_generation_id
        if records is None or self.should_stop:
            return
        left: dict[Any, int] = {}  # partition -> its first record not handed over
        try:
            if not self.flow_active:  # as Faust: the flow stopped during the fetch
                left = {tp: recs[0].offset for tp, recs in records.items() if recs}
                await self.perform_seek()
                return
            buffered = self._buffered_partitions
            for tp in records:  # once a fetch, not once a record as Faust does
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            for tp, record in self.scheduler.iterate(records):
                if tp in left:
                    continue
                if (
                    not self.flow_active
                    or self.app.consumer_generation_id != generation
                    or not (active is None or tp in active or tp in buffered)
                ):
                    left[tp] = record.offset
                    continue
                yield tp, self._to_message(tp, record)
        finally:
            rewinds = {tp: (first, noted[tp]) for tp, first in left.items() if tp in noted}
            if rewinds:
                try:
                    done = await thread.call_thread(
                        rewind_unmoved, thread._ensure_consumer(), rewinds
                    )
                except Exception as exc:  # the consumer is stopping: its partitions move
                    log.warning("could not rewind %s (%s)", sorted(map(str, rewinds)), exc)
                    done = []
                for tp in done:  # expected around rebalances: nothing is lost
                    log.info("%s rewound to %s: fetched, not handed over", tp, rewinds[tp][0])

    async def _missed(self, tp: Any, last: int, offset: int) -> bool:
        """A message at ``offset`` after ``last``: were messages in between missed?

        Faust counts such a jump as a hole (compacted, or a transaction's marker) and lets
        commits cover it. Our input topics have no holes, and a missed fetch looks the same
        (module doc), so the partition is sought back to ``last + 1`` once; only if it
        jumps to the same offset again are the messages gone (retention, compaction) and
        the jump a hole. True when it was sought back.
        """
        jumped = self.__dict__.setdefault("_jumped", {})
        if jumped.get(tp) == offset:
            del jumped[tp]
            log.warning(
                "%s has no messages %s..%s (deleted): skipping them", tp, last + 1, offset - 1
            )
            await self._add_gap(tp, last + 1, offset)
            return False
        jumped[tp] = offset
        thread: Any = self._thread
        try:  # on the consumer's own thread, as Faust's seek back to the committed offsets
            await thread.call_thread(thread._ensure_consumer().seek, tp, last + 1)
        except IllegalStateError:  # no longer ours: its next owner reads it from the commit
            return True
        self._read_offset[tp] = last + 1  # as Faust's ``seek``: the next offset to deliver
        log.warning("%s jumped from %s to %s: reading from %s again", tp, last, offset, last + 1)
        return True

    async def _drain_messages(self, fetcher: Any) -> None:
        deliver = self.callback
        app = self.app
        read_offsets = self._read_offset
        suspend_flow = self.suspend_flow
        acks_enabled_for = self.app.topics.acks_enabled_for
        commit_every = self._commit_every
        running = lambda: not (self._stopped.is_set() or fetcher._stopped.is_set())  # noqa: E731
        try:
            while running():
                self.diag.set_flag(CONSUMER_FETCHING)
                fetched = self.getmany(timeout=1.0)
                await asyncio.sleep(0)  # getmany may not yield to the loop for a while
                if self.should_stop:
                    continue
                since_yield = 0
                reread: set[Any] = set()  # partitions sought back during this fetch
                async for tp, message in fetched:
                    if tp in reread:
                        continue  # fetched before the seek back: read again after it
                    offset = message.offset
                    last = read_offsets[tp]
                    if last is not None and offset < last:
                        continue  # already delivered (a seek went back): Faust drops it too
                    if last and offset - last > 1 and acks_enabled_for(message.topic):  # noqa: SIM102
                        if await self._missed(tp, last, offset):  # read it again, or a hole
                            reread.add(tp)
                            continue
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    if suspend_flow.is_set():  # rebalancing: a blocked delivery may be dropped
                        await self.wait_first(deliver(message), suspend_flow.wait())
                    else:
                        await deliver(message)
                    if message.generation_id != app.consumer_generation_id:
                        # A rebalance came while the delivery waited (for the flow to
                        # resume): Faust has since sought back to the committed offsets, and
                        # this stale message will be dropped by the intake. Recording its
                        # offset now would make the drain skip the same offsets when they
                        # are read again: they would never be processed.
                        continue
                    read_offsets[tp] = offset
                    since_yield += 1
                    if since_yield >= 100:  # let the worker's batch loop run between records
                        since_yield = 0
                        await asyncio.sleep(0)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except (*self.consumer_stopped_errors, asyncio.CancelledError):  # type: ignore[misc]
            if self.transport.app.should_stop:
                return  # stopping: the consumer or the loop went away first
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


class DirectDeliveryTransport(faust_aiokafka.Transport):
    Consumer = DirectDeliveryConsumer


class LastmileApp(faust.App):
    """A Faust app whose consumer delivers each fetched message with one await."""

    def _new_transport(self) -> Any:
        return DirectDeliveryTransport(self.conf.broker_consumer, self)


__all__ = ["DirectDeliveryConsumer", "LastmileApp"]
