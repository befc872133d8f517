"""Crash points for fault tests: the process exits at once, as under ``kill -9``.

``LASTMILE_FAULTS=name[,name...]`` arms named points; a worker that reaches an armed point
exits with status 70 without flushing or closing anything. Unarmed (the default), a point
costs one set lookup. The points sit between two effects whose order matters (ADR 0001).
``agent-error`` instead raises inside the parcels agent, as a bug would: the worker must
then shut down cleanly (flush, exit non-zero, no second crash).
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

FAULT_EXIT = 70
POINTS = frozenset(
    {
        "hold-published",  # a held violation handed to the producer, not yet acknowledged
        "hold-released",  # the hold removed from Redis (its violation acknowledged before)
        "agent-error",  # a bug in the parcels agent (raises FaultInjected)
    }
)


class FaultInjected(RuntimeError):
    """Raised at an armed ``agent-error`` point: stands in for a bug."""


class Faults:
    def __init__(self, armed: str = "") -> None:
        names = {n.strip() for n in armed.split(",") if n.strip()}
        unknown = names - POINTS
        if unknown:
            raise ValueError(
                f"LASTMILE_FAULTS names unknown points {sorted(unknown)}; known: {sorted(POINTS)}"
            )
        self.armed = frozenset(names)

    def hit(self, point: str) -> None:
        if point not in self.armed:
            return
        if point == "agent-error":
            raise FaultInjected(f"fault point {point!r} (LASTMILE_FAULTS)")
        log.error("fault point %r reached: exiting at once (LASTMILE_FAULTS)", point)
        os._exit(FAULT_EXIT)
