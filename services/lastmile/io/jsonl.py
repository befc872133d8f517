"""JSONL in and out: line-numbered reading with progress, dead-letter records.

``-`` means stdin / stdout. Dead-letter records keep the original line (as text when it
is UTF-8, else base64) with the reason, so nothing is lost.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson

from lastmile.io.atomic import atomic_open


@contextmanager
def open_in(path: str) -> Iterator[tuple[BinaryIO, int | None]]:
    """Open an input for binary reading; yields (stream, size in bytes when known)."""
    if path == "-":
        yield sys.stdin.buffer, None
        return
    p = Path(path)
    with p.open("rb") as f:
        yield f, p.stat().st_size


@contextmanager
def open_out(path: str | None) -> Iterator[IO[bytes] | None]:
    """Open an output for binary writing (None: no output)."""
    if path is None:
        yield None
    elif path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
    else:
        with atomic_open(path, "wb") as f:  # a failed run leaves no half file behind
            yield f


def dead_letter(source: str, line_no: int | None, raw: bytes, reason: str, detail: str) -> bytes:
    """One dead-letter JSON line holding the original bytes and the reason."""
    record: dict[str, Any] = {"source": source, "line": line_no, "reason": reason, "detail": detail}
    try:
        record["raw"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        record["raw_base64"] = base64.b64encode(raw).decode("ascii")
    return orjson.dumps(record) + b"\n"


UTF8_BOM = b"\xef\xbb\xbf"


def strip_bom(data: bytes) -> bytes:
    """Without a leading UTF-8 byte order mark (only ever at the start of a file)."""
    return data[len(UTF8_BOM) :] if data.startswith(UTF8_BOM) else data


def strip_eol(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
    return line
