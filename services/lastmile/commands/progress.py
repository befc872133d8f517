"""Progress bars for long commands: shown on a terminal, silent in pipes and CI."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def interactive() -> bool:
    return sys.stderr.isatty()


class _Bar:
    def __init__(self, progress: Progress | None, task: int | None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: float = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)  # type: ignore[arg-type]


@contextmanager
def progress_bar(label: str, total: float | None, unit_bytes: bool = False) -> Iterator[_Bar]:
    """A rich progress bar on a terminal; a no-op elsewhere."""
    if not interactive():
        yield _Bar(None, None)
        return
    counter = DownloadColumn() if unit_bytes else MofNCompleteColumn()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        counter,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield _Bar(progress, task)  # type: ignore[arg-type]
