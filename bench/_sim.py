"""Shared by the benchmarks: a simulated county-week, cached on disk by its parameters."""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "bench"  # /.cache/ is gitignored
NETWORK = REPO / "services" / "lastmile" / "data" / "yiyuan.network.json"


def reference_decoders() -> Any:
    """tests/reference_decoders.py: the hand decoder and pydantic models issue 13 replaced."""
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import reference_decoders

    return reference_decoders


def simulated(days: int, parcels_per_day: int, seed: int, start: date | None = None) -> Path:
    """Directory holding scans.jsonl / complaints.jsonl of the simulation (made once)."""
    from lastmile.domain.network import load_network
    from lastmile.simulator import simulate, write_simulation

    name = f"sim-yiyuan-d{days}-p{parcels_per_day}-s{seed}"
    out = CACHE / (name if start is None else f"{name}-{start.isoformat()}")
    if (out / "truth_summary.json").is_file():
        return out
    t0 = time.perf_counter()
    sim = simulate(
        load_network(NETWORK),
        days=days,
        parcels_per_day=parcels_per_day,
        seed=seed,
        start=start,
    )
    tmp = out.with_name(out.name + ".tmp")
    write_simulation(sim, tmp)
    tmp.rename(out)  # a half-written directory is never taken for a cached one
    print(f"# simulated {out.name} in {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def pin_one_core() -> str:
    """Run this process on one CPU (like ``taskset -c 0``); returns what was done."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu} (sched_setaffinity, = taskset -c {cpu})"
    except (AttributeError, OSError):
        return "not pinned (single-threaded Python anyway)"


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc {os.cpu_count()}, CPU {model}, Python {platform.python_version()} "
        f"({sys.implementation.name}), {platform.system()} {platform.release()}; "
        f"load average now {load} (a shared machine: compare ratios, not absolutes)"
    )
