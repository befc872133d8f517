#!/usr/bin/env python3
"""Sizing for a county, a province and the nation, computed from measured figures.

    python3 bench/sizing.py            # prints the Markdown table of docs/operations.md

Every input is a figure a command of this repo measured (MEASURED, with the command), or a
stated assumption (ASSUMED). tests/unit/test_sizing_doc.py checks that docs/operations.md
shows exactly what this prints, so the page cannot drift from its inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIB = 1024**2
GIB = 1024**3

# ---------------------------------------------------------------- measured (see docs)
# `bench/bench_worker.py --latency-rate R` (docs/benchmarks.md): the highest open-loop rate
# one worker sustained live with p99 <= 250 ms (4,093 msg/s, p99 237 ms; at 5,000-5,239 the
# delivery-heavy evening of the simulated day exceeds it). Catch-up is faster (10,477
# events/s from a full topic) but live traffic is what a deployment must keep up with.
WORKER_EVENTS_PER_S = 4_093
# `bench/bench_redis_footprint.py --parcels-per-day 100000` (seed 1, one worker, 4
# partitions): worker RSS 102 MiB when ready, 992 MiB after 100,112 parcels, still growing
# (bench_worker.py, over 20,033 parcels: 1,282 MiB per 100,000)
WORKER_RSS_MIB_PER_100K_PARCELS = (992 - 102) / 100_112 * 100_000  # 889
REDIS_BYTES_PER_PARCEL_PATH = 1_559  # <p>:parcel:<id>, kept 30 days
REDIS_BYTES_PER_PARCEL_DAY = 190  # by-day records (first scans, deliveries, e2e, complaints)
REDIS_BYTES_PER_VIOLATION = 1_378  # {<p>:v}:* documents, indexes, stream; kept 400 days
EVENTS_PER_PARCEL = 6.95  # same run: 695,672 messages / 100,112 distinct parcels

# ---------------------------------------------------------------- assumed (stated)
NATION_EVENTS_PER_S = 63_000  # issue 12: the nation's average scan events/s
PEAK_FACTOR = 3  # "peaks several times that": plan for 3x the average
COUNTY_LEVEL_DIVISIONS = 2_844  # China's county-level divisions; a county = nation / 2,844
PROVINCE_SHARE = 0.10  # Shandong: about a tenth of the nation's parcels
VIOLATION_RATE = 0.005  # violations per parcel: 0.5 % (the simulator injects ~5 %)
PATH_DAYS = 30  # retention of parcel paths (LASTMILE retention_days)
BY_DAY_DAYS = 62  # by-day records kept for four half-month reviews
VIOLATION_DAYS = 400  # violations.v1 retention, and its Redis projection
SPARE_WORKERS = 1  # one worker's partitions may be lost (node down) at peak
PARTITION_ROOM = 4  # partitions >= 4 x the workers needed: room to grow before re-partitioning
REDIS_HEADROOM = 1.5  # fragmentation, AOF rewrite, replicas' buffers


@dataclass(frozen=True)
class Scale:
    name: str
    events_per_s: float

    @property
    def peak(self) -> float:
        return self.events_per_s * PEAK_FACTOR

    @property
    def parcels_per_day(self) -> float:
        return self.events_per_s * 86_400 / EVENTS_PER_PARCEL

    @property
    def workers(self) -> int:
        return math.ceil(self.peak / WORKER_EVENTS_PER_S) + SPARE_WORKERS

    @property
    def partitions(self) -> int:
        """A multiple of 12 (splits evenly over 1, 2, 3, 4, 6 workers...) with room to grow."""
        needed = math.ceil(self.peak / WORKER_EVENTS_PER_S) * PARTITION_ROOM
        return max(12, 12 * math.ceil(needed / 12))

    @property
    def worker_state_parcels(self) -> float:
        return self.parcels_per_day * PATH_DAYS

    @property
    def worker_rss_gib_each(self) -> float:
        total = self.worker_state_parcels / 100_000 * WORKER_RSS_MIB_PER_100K_PARCELS * MIB
        return total / (self.workers - SPARE_WORKERS) / GIB

    @property
    def redis_gib(self) -> float:
        paths = self.parcels_per_day * PATH_DAYS * REDIS_BYTES_PER_PARCEL_PATH
        by_day = self.parcels_per_day * BY_DAY_DAYS * REDIS_BYTES_PER_PARCEL_DAY
        violations = (
            self.parcels_per_day * VIOLATION_RATE * VIOLATION_DAYS * REDIS_BYTES_PER_VIOLATION
        )
        return (paths + by_day + violations) * REDIS_HEADROOM / GIB

    @property
    def redis_violations_gib(self) -> float:
        """The {<p>:v} family alone: one hash slot, so one Redis node however many."""
        v = self.parcels_per_day * VIOLATION_RATE * VIOLATION_DAYS * REDIS_BYTES_PER_VIOLATION
        return v * REDIS_HEADROOM / GIB


SCALES = [
    Scale("county (average county-level division)", NATION_EVENTS_PER_S / COUNTY_LEVEL_DIVISIONS),
    Scale("province (Shandong, ~1/10)", NATION_EVENTS_PER_S * PROVINCE_SHARE),
    Scale("nation", NATION_EVENTS_PER_S),
]


def fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def table() -> str:
    rows = [
        "| scale | events/s (avg / peak) | parcels/day | workers | partitions "
        "| worker RSS each (GiB) | Redis (GiB) | of which `{<p>:v}` slot (GiB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in SCALES:
        rows.append(
            f"| {s.name} | {fmt(s.events_per_s)} / {fmt(s.peak)} | {s.parcels_per_day:,.0f} "
            f"| {s.workers} | {s.partitions} | {fmt(s.worker_rss_gib_each)} "
            f"| {fmt(s.redis_gib)} | {fmt(s.redis_violations_gib)} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
