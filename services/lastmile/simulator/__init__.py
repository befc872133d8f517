"""Synthetic county traffic with injected violations and a ground truth.

    sim = simulate(network, days=7, parcels_per_day=20_000, seed=1)
    summary = write_simulation(sim, Path("out/sim"))

Pure Python (stdlib + orjson), deterministic for a seed, works on any network file.
See docs/simulator.md for what it models and how the truth is kept exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from lastmile.domain.network import Network
from lastmile.io.atomic import atomic_open, write_bytes
from lastmile.simulator.faults import DataFaults
from lastmile.simulator.generator import CARRIER_SHARES, DEFAULT_START, generate
from lastmile.simulator.layout import lay_out_all
from lastmile.simulator.rates import ALL_RULES, InjectionRates

__all__ = ["DataFaults", "InjectionRates", "Simulation", "simulate", "write_simulation"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Simulation:
    """The four outputs, ready to write: lines in arrival order, truth, summary."""

    scan_lines: list[bytes]
    complaint_lines: list[bytes]
    truth: list[dict[str, str]]
    summary: dict[str, Any]


def simulate(
    network: Network,
    *,
    days: int,
    parcels_per_day: int,
    seed: int,
    start: date | None = None,
    rates: InjectionRates | None = None,
    progress: Progress | None = None,
    faults: DataFaults | None = None,
) -> Simulation:
    """Simulate ``days`` days of ``parcels_per_day`` parcels on a network; deterministic for
    (network, days, parcels_per_day, seed, start, rates)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if parcels_per_day < 1:
        raise ValueError("parcels_per_day must be at least 1")
    rates = rates or InjectionRates()
    faults = faults or DataFaults()
    faults.check(c for c, _ in CARRIER_SHARES)
    first = start or DEFAULT_START
    g = generate(network, days, parcels_per_day, seed, first, rates, progress, faults)
    if progress is not None:
        progress("lines", 0, 1)
    scans, s_stats, complaints, c_stats = lay_out_all(
        g, seed, rates.duplicates, rates.late, rates.invalid
    )
    if progress is not None:
        progress("lines", 1, 1)

    by_rule = {rule: 0 for rule in ALL_RULES}
    by_type: dict[str, int] = {}
    by_carrier: dict[str, int] = {}
    by_town: dict[str, int] = {}
    for t in g.truth:
        key = f"{t['type']}/{t['rule']}"
        by_rule[key] += 1
        by_type[t["type"]] = by_type.get(t["type"], 0) + 1
        by_carrier[t["carrier"]] = by_carrier.get(t["carrier"], 0) + 1
        town = g.truth_towns[t["violation_id"]]
        by_town[town] = by_town.get(town, 0) + 1
    summary: dict[str, Any] = {
        "format": "lastmile.simulation.v1",
        "seed": seed,
        "parameters": {
            "county": {"code": network.county_code, "name": network.county_name},
            "days": days,
            "parcels_per_day": parcels_per_day,
            "start": first.isoformat(),
            "seed": seed,
            "rates": rates.as_dict(),
        },
        "parcels": g.parcels,
        "scans": {k: v for k, v in s_stats.items() if k != "invalid_line_numbers"},
        "complaints": {k: v for k, v in c_stats.items() if k != "invalid_line_numbers"},
        "invalid": {
            "scans": {"count": s_stats["invalid_lines"], "lines": s_stats["invalid_line_numbers"]},
            "complaints": {
                "count": c_stats["invalid_lines"],
                "lines": c_stats["invalid_line_numbers"],
            },
        },
        "violations": {
            "total": len(g.truth),
            "by_rule": by_rule,
            "by_type": dict(sorted(by_type.items())),
            "by_carrier": dict(sorted(by_carrier.items())),
            "by_town": dict(sorted(by_town.items())),
        },
        "hard_negatives": g.hard_negatives,
        # contract §7: the injected data faults and what the indicators must report
        "data_faults": {"parameters": faults.as_dict(), "truth": g.fault_truth},
    }
    return Simulation(scans, complaints, g.truth, summary)


def _write_lines(path: Path, lines: list[bytes]) -> None:
    with atomic_open(path, "wb") as f:
        for i in range(0, len(lines), 50_000):
            chunk = lines[i : i + 50_000]
            f.write(b"\n".join(chunk))
            f.write(b"\n")


def write_simulation(sim: Simulation, out_dir: Path | str) -> dict[str, Any]:
    """Write scans.jsonl, complaints.jsonl, truth.jsonl and truth_summary.json into out_dir;
    return the summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_lines(out / "scans.jsonl", sim.scan_lines)
    _write_lines(out / "complaints.jsonl", sim.complaint_lines)
    _write_lines(out / "truth.jsonl", [orjson.dumps(t) for t in sim.truth])
    write_bytes(
        out / "truth_summary.json", orjson.dumps(sim.summary, option=orjson.OPT_INDENT_2) + b"\n"
    )
    return sim.summary
