"""``lastmile simulate``: the simulator behind the CLI (the CLI parses the options)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from lastmile.console import console
from lastmile.domain.network import load_network
from lastmile.simulator import DataFaults, Progress, simulate, write_simulation
from lastmile.simulator.rates import InjectionRates

SILENT_JUDGED_AFTER_DAYS = 8  # the data must span silent_point_days (7) from its first scan
_LABELS = {"parcels": "simulating parcels", "lines": "laying out lines", "write": "writing files"}


def _line_progress(step_percent: int = 10) -> Progress:
    """Progress as plain lines on stderr (logs, CI, pipes): one per stage and `step_percent`."""
    shown: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        mark = percent - percent % step_percent
        if shown.get(stage, -1) >= mark:
            return
        shown[stage] = mark
        label = _LABELS.get(stage, stage)
        if total > 1:
            sys.stderr.write(f"{label}: {mark}% ({done:,}/{total:,})\n")
        else:  # a stage of one step
            sys.stderr.write(f"{label}: {'done' if done else 'started'}\n")
        sys.stderr.flush()

    return report


@contextmanager
def _progress() -> Iterator[Progress]:
    """A rich progress bar when stderr is a terminal; plain lines on stderr otherwise."""
    if not sys.stderr.isatty():
        yield _line_progress()
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            task = tasks.get(stage)
            if task is None:
                task = tasks[stage] = bar.add_task(_LABELS.get(stage, stage), total=max(total, 1))
            bar.update(task, completed=done, total=max(total, 1))

        yield report


def parse_start(start: str | None) -> date | None:
    if start is None:
        return None
    try:
        return date.fromisoformat(start)
    except ValueError:
        raise ValueError(f"--start {start!r}: want a date YYYY-MM-DD") from None


def run_simulate_command(
    network_path: str,
    days: int,
    parcels_per_day: int,
    seed: int,
    out_dir: str,
    start: str | None,
    rates: dict[str, float],
    faults: DataFaults | None = None,
) -> dict[str, Any]:
    """Simulate and write scans.jsonl, complaints.jsonl, truth.jsonl, truth_summary.json into
    out_dir; return the summary. Bad arguments raise ValueError (NetworkError is one)."""
    network = load_network(network_path)
    first = parse_start(start)
    if faults is not None and faults.silent_points and days < SILENT_JUDGED_AFTER_DAYS:
        console.print(
            f"note: the monitor judges silent points once its data spans silent_point_days (7 "
            f"by default) from the first scan: with --days {days} it may not name them; "
            f"simulate {SILENT_JUDGED_AFTER_DAYS} days or more, or lower silent_point_days"
        )
    injection = InjectionRates.from_mapping(rates)
    with _progress() as report:
        sim = simulate(
            network,
            days=days,
            parcels_per_day=parcels_per_day,
            seed=seed,
            start=first,
            rates=injection,
            progress=report,
            faults=faults,
        )
        report("write", 0, 1)
        summary = write_simulation(sim, Path(out_dir))
        report("write", 1, 1)
    v = summary["violations"]
    print(
        f"wrote {out_dir}: {summary['scans']['lines']} scan lines "
        f"({summary['invalid']['scans']['count']} invalid), "
        f"{summary['complaints']['lines']} complaint lines, {v['total']} violations in truth",
        flush=True,
    )
    return summary
