"""What every command shows a user: one error printer and one progress bar.

``fail`` prints one line saying what is wrong and one saying what to do, then exits 2
(usage) or 1 (runtime); progress bars show on a terminal and stay silent in pipes and CI.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
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


def fail(message: str, hint: str | None = None, code: int = 2) -> NoReturn:
    """One line saying what is wrong (and one saying what to do); exit 2 (usage) or 1."""
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    if hint:
        console.print(f"[yellow]hint:[/] {escape(hint)}", soft_wrap=True)
    raise typer.Exit(code)


def settings_or_fail():  # type: ignore[no-untyped-def]
    """The settings, or one line naming the bad LASTMILE_* variable (exit 2)."""
    from lastmile.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), "fix or unset the variable (docs/configuration.md)")


def load_inputs(network: str, config: str | None = None):  # type: ignore[no-untyped-def]
    """The network and rules files, or one line naming the offending entry (exit 2)."""
    from lastmile.io.files import ConfigError, NetworkError, load_network, load_rule_config

    try:
        net = load_network(network)
    except NetworkError as exc:
        fail(str(exc), "fix the named entry of the network file (contract §1)")
    try:
        cfg = load_rule_config(config)
    except ConfigError as exc:
        fail(str(exc), "see docs/rules.md for the settings and their defaults")
    return net, cfg
