"""Secrets and certificates kept in files (passwords, CA bundles, client certificates).

A file that is missing, unreadable or empty is refused with the LASTMILE_* variable that
names it, at start, before any connection is tried.
"""

from __future__ import annotations

from pathlib import Path

from lastmile.settings import ENV_PREFIX


class SecretFileError(ValueError):
    """A credentials or certificate file that cannot be used; the message names its variable."""


def readable(variable: str, path: str) -> str:
    """`path` when it is a file this process can read; SecretFileError naming `variable`."""
    if not Path(path).is_file():
        raise SecretFileError(f"{ENV_PREFIX}{variable}: no such file: {path}")
    try:
        Path(path).read_bytes()
    except OSError as exc:
        raise SecretFileError(
            f"{ENV_PREFIX}{variable}: cannot read {path}: {exc.strerror}"
        ) from None
    return path


def read_secret(variable: str, path: str) -> str:
    """A password kept in a file (one line; a trailing newline is not part of it)."""
    text = Path(readable(variable, path)).read_text(encoding="utf-8").rstrip("\r\n")
    if not text:
        raise SecretFileError(f"{ENV_PREFIX}{variable}: {path} is empty")
    return text
