"""Reading event files (JSONL) into a detection: decode, dead-letter, count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from lastmile.console import progress_bar
from lastmile.contract.decode import InvalidMessage
from lastmile.domain.engine import Detection
from lastmile.domain.events import Event
from lastmile.io.jsonl import dead_letter, open_in, strip_bom, strip_eol


@dataclass
class InputStats:
    lines: int = 0
    valid: int = 0
    invalid: Counter[str] = field(default_factory=Counter)


def read_events(
    path: str,
    source: str,
    decode: Callable[[bytes], Event],
    detection: Detection,
    dlq: IO[bytes] | None,
    stats: InputStats,
    on_event: Callable[[Event], None] | None = None,
    on_invalid: Callable[[bytes, str], None] | None = None,
) -> float:
    """Decode every line of one input into the detection; returns the newest event time.

    ``on_event`` sees every valid line's event (repeats too), ``on_invalid`` every refused
    line (its bytes and the reason): the data-quality tally of contract §7.
    """
    newest = float("-inf")
    add = detection.add
    line_no = pending = 0
    with open_in(path) as (stream, size), progress_bar(f"reading {source}", size, True) as bar:
        for line_no, line in enumerate(stream, start=1):
            if line_no == 1:
                line = strip_bom(line)  # editors on Windows start UTF-8 files with one
            pending += len(line)
            if not line_no & 4095:
                bar.advance(pending)
                pending = 0
            try:
                event = decode(line)  # JSON allows the trailing newline
            except InvalidMessage as exc:
                stats.invalid[exc.reason] += 1
                if on_invalid is not None:
                    on_invalid(strip_eol(line), exc.reason)
                if dlq is not None:
                    raw = strip_eol(line)
                    dlq.write(dead_letter(source, line_no, raw, exc.reason, exc.detail))
                continue
            add(event)
            if on_event is not None:
                on_event(event)
            if event.ts > newest:
                newest = event.ts
        bar.advance(pending)
    stats.lines += line_no
    stats.valid += line_no - sum(stats.invalid.values())
    return newest
