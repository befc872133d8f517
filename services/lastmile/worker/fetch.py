"""How fetched records reach the conductor: one plain await per message, not four tasks.

Faust's consumer hands each fetched message to the conductor through
``Service.wait_first(callback(message), suspend_flow.wait())``, which creates four tasks
and an ``asyncio.wait`` per message so that a delivery blocked when a rebalance begins can
be abandoned. Measured here, that costs about as much as everything else in Faust's intake
together (docs/benchmarks.md, ADR 0005). This consumer awaits the delivery directly while
the flow runs, and keeps the abandonable race only while a rebalance has suspended it.
Offsets, gaps and commits are kept as Faust keeps them (read offsets per partition,
``_add_gap`` for compacted holes, ``commit_every``), with one difference: a delivery that
waited through a rebalance does not record its (stale) offset, since Faust has sought back
to the committed offsets meanwhile.

**Seeking back to the committed offsets** also seeks an input partition that has no
committed offset yet to its beginning. Faust's ``getmany`` drops the fetched records of a
partition that left its active set while they were delivered (a recovery pauses and
resumes partitions) and counts on the seek back that ends every recovery; aiokafka's
``seek_to_committed`` leaves a partition without a commit where it was, so those records
were skipped for good, and the partition's first commit (which Faust takes from the first
acknowledged offset when none was committed) covered them. The three-worker churn test
lost a partition's second part so (ADR 0005).

``LastmileApp`` is a ``faust.App`` whose consumer transport uses this consumer; nothing
else about the app changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka


async def _seek_to_committed_or_start(client: Any, changelogs: frozenset[str]) -> Any:
    """On the consumer's thread: each assigned partition to its committed offset, and an
    input partition without one (or with 0) to its first available offset."""
    offsets = await client.seek_to_committed()
    never = [
        tp for tp, o in offsets.items() if (o is None or o <= 0) and tp.topic not in changelogs
    ]
    if never:
        await client.seek_to_beginning(*never)
    return offsets


class DirectDeliveryConsumer(faust_aiokafka.Consumer):
    async def seek_to_committed(self) -> Any:
        """Seek every partition back to its committed offset (Faust does before it resumes
        the flow), and an input partition never committed to its start (module doc)."""
        thread: Any = self._thread
        changelogs = frozenset(self.app.tables.changelog_topics)
        return await thread.call_thread(
            _seek_to_committed_or_start, thread._ensure_consumer(), changelogs
        )

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
                async for tp, message in fetched:
                    offset = message.offset
                    last = read_offsets[tp]
                    if last is not None and offset < last:
                        continue  # already delivered (a seek went back): Faust drops it too
                    if last and offset - last > 1 and acks_enabled_for(message.topic):
                        await self._add_gap(tp, last + 1, offset)  # compacted or aborted
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
