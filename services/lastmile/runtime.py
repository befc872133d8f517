"""Process settings of long-running lastmile processes (the streaming worker).

The core's records are tuples (NamedTuples) that never form reference cycles, yet CPython
tracks every one of them, and each full collection walks all that are alive: the state
cache of a worker holds hundreds of thousands. With the default thresholds the cyclic
collector took about a quarter of the pipeline's time (docs/benchmarks.md). So the worker
collects the young generation less often and promotes to a full collection rarely; what
exists once it is started (imports, the network, Faust's services) is frozen out of
collection altogether. Reference counting still frees everything that is not in a cycle.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000  # allocations between young collections (default 700)
MIDDLE_THRESHOLD = 20  # young collections between middle ones (default 10)
OLD_THRESHOLD = 100  # middle collections between full ones (default 10)


def tune_collector() -> None:
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)


def freeze_startup_objects() -> None:
    """Move everything alive now out of the collector's sight (call once started)."""
    gc.collect()
    gc.freeze()
