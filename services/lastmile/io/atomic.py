"""Writing outputs safely: never over an input, never a half file where a good one was.

Every output goes to a temporary file in the same directory, renamed over the target only
when the whole output was written; an interrupted or failed run leaves the old file (or
nothing) in place, never a truncated one. ``check_outputs`` refuses an output path that is
one of the inputs (or another output) before anything is opened, so a slip such as
``--dlq`` equal to ``--scans`` cannot empty the input.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any


class SamePathError(ValueError):
    """An output would overwrite an input or another output."""


def _same(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, bind mounts
    except OSError:
        return False


def check_outputs(
    inputs: Iterable[tuple[str, str | None]], outputs: Iterable[tuple[str, str | None]]
) -> None:
    """Refuse when an output (option name, path) is an input or another output.

    ``None`` and ``-`` (stdin/stdout) are ignored.
    """
    ins = [(n, p) for n, p in inputs if p not in (None, "-")]
    outs = [(n, p) for n, p in outputs if p not in (None, "-")]
    for i, (name, path) in enumerate(outs):
        assert path is not None
        for other, ipath in ins:
            assert ipath is not None
            if _same(path, ipath):
                raise SamePathError(f"{name} {path} is the input {other}; it would be overwritten")
        for other, opath in outs[:i]:
            assert opath is not None
            if _same(path, opath):
                raise SamePathError(f"{name} and {other} are the same file: {path}")


def check_writable(option: str, path: str | None) -> None:
    """Refuse (OSError naming the option) an output path that cannot be written, before any
    work is done: a directory, or a place under a file or an unwritable directory."""
    if path in (None, "-"):
        return
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(21, f"{option} is a directory", str(p))
    parent = p.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(20, f"{option}: {parent} is not a directory", str(p))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(13, f"{option}: cannot write in {parent}", str(p))


@contextlib.contextmanager
def atomic_open(
    path: str | Path, mode: str = "wb", private: bool = False, **kwargs: Any
) -> Iterator[IO[Any]]:
    """Open a temporary sibling of `path` for writing; rename it over `path` on success.
    `private`: the file stays readable by its owner only (mode 0600: secrets, backups)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if not private:
            with contextlib.suppress(OSError):  # the usual permissions (mkstemp uses 0600)
                os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | Path, data: bytes, private: bool = False) -> None:
    with atomic_open(path, "wb", private=private) as f:
        f.write(data)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    write_bytes(path, text.encode(encoding))
