"""Process settings of long-running lastmile processes (the streaming worker).

The core's records are tuples (NamedTuples) that never form reference cycles, yet CPython
tracks every one of them, and each full collection walks all that are alive: the state
cache of a worker holds hundreds of thousands. With the default thresholds the cyclic
collector took about a quarter of the pipeline's time (docs/benchmarks.md). So the worker
collects the young generation a little less often and the whole heap rarely (see the
thresholds); what exists once it is started (imports, the network, Faust's services) is
frozen out of collection altogether. Reference counting still frees everything that is
not in a cycle.
"""

from __future__ import annotations

import gc

# A young collection examines every tracked object allocated (net) since the last one, and
# nearly all of the worker's survive (scans and paths of the state): its pause grows with
# the threshold, its total cost does not. 50,000 gave pauses of 50-100 ms, in the p99 of
# live latency; 5,000 gives a few ms. Middle collections come every 20,000 (net), pauses
# of tens of ms; full ones, which walk the whole state (~300 ms for 250,000 objects), every
# 20 million (net), and only once a quarter of the old generation is new (docs/benchmarks.md).
YOUNG_THRESHOLD = 5_000  # tracked allocations between young collections (default 700)
MIDDLE_THRESHOLD = 4  # young collections between middle ones (default 10)
OLD_THRESHOLD = 1000  # middle collections between full ones (default 10)


def tune_collector() -> None:
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)


def freeze_startup_objects() -> None:
    """Move everything alive now out of the collector's sight (call once started)."""
    gc.collect()
    gc.freeze()


def log_long_collections(threshold_s: float = 0.1) -> None:
    """Log each collection that holds the process at least ``threshold_s``: the worker is
    one event loop, so a collection's pause is added to every batch under way."""
    import logging
    import time

    log = logging.getLogger("lastmile.runtime")
    started = [0.0]

    def on_collect(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = time.perf_counter() - started[0]
        if took >= threshold_s:
            log.warning(
                "garbage collection of generation %d held the worker %.0f ms (%d collected)",
                info["generation"],
                took * 1000,
                info["collected"],
            )

    gc.callbacks.append(on_collect)
