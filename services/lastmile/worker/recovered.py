"""Which consumer generation's tables are recovered: input and holds wait for it.

Faust resumes its flow when a table recovery completes, and a recovery's completion
checks the consumer generation only *before* an await (the seek back to the committed
offsets). A rebalance that begins during that await assigns the partitions of the next
generation, and the older completion then resumes the flow anyway: the new generation's
input can be fetched and folded while its recovery has not yet replayed the changelogs
into the stores, and a batch folded then stores paths without their earlier scans. This
window was found by reading Faust's recovery while chasing such losses in the three-worker
churn test, and was not caught in the act: the losses a diagnostic build caught had
another cause (worker/positions.py). Faust's ``in_recovery`` and ``rebalancing`` flags do
not close it: the stale completion clears ``rebalancing``, and ``in_recovery`` is set only
once the next recovery runs.

``RecoveredTables`` records the generation of each recovery that completes while that
generation is still the consumer's; the intake folds a batch, the holds are judged and
the expiry sweep reads the stores only while it is the current one. A wait is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)

POLL_S = 0.5  # the consumer's generation changes on its own thread, without an event


class RecoveredTables:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.generation: int | None = None  # the last generation whose recovery completed
        self._completed = asyncio.Event()

    def install(self) -> None:
        """Follow Faust's recovery: each completion reports the generation it ran for."""
        recovery = self.app.tables.recovery
        completed = recovery.on_recovery_completed

        async def on_recovery_completed(generation_id: int = 0) -> None:
            await completed(generation_id)
            self.completed(generation_id)

        recovery.on_recovery_completed = on_recovery_completed

    def completed(self, generation: int) -> None:
        """A recovery for ``generation`` has completed: it counts only if no rebalance has
        assigned a newer generation meanwhile (that one's recovery is still to come)."""
        if generation == self.app.consumer_generation_id:
            self.generation = generation
            self._completed.set()
        else:
            log.info(
                "table recovery for generation %s completed after generation %s began: "
                "input waits for that one's recovery",
                generation,
                self.app.consumer_generation_id,
            )

    def current(self) -> bool:
        """The stores hold every changelog record of the partitions owned now."""
        return self.generation is not None and self.generation == self.app.consumer_generation_id

    async def wait(self) -> None:
        """Until ``current()``; returns without an await when it already is."""
        if not self.current():
            log.info(
                "input waits for the tables' recovery for generation %s (last recovered: %s)",
                self.app.consumer_generation_id,
                self.generation,
            )
        while not self.current():
            self._completed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._completed.wait(), POLL_S)


__all__ = ["RecoveredTables"]
