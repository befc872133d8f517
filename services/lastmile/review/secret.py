"""The per-deployment key of the courier pseudonyms in reviews.

A pseudonym is a keyed hash of the courier id (lastmile.review.figures.pseudonym). Unkeyed,
anyone holding the courier ids (a courier firm, a leaked roster) could hash them and undo
every pseudonym. The key is ``LASTMILE_REVIEW_SALT`` when set; otherwise 32 random bytes
generated on first use and kept in ``LASTMILE_REVIEW_KEY_FILE`` (mode 0600), so the
pseudonyms of one deployment stay stable from report to report. Keep the file with the
deployment's other secrets; losing it only changes the pseudonyms of later reports.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def pseudonym_key(salt: str, key_file: str) -> tuple[str, str | None]:
    """The key, and a note when a new key file was just created."""
    if salt:
        return salt, None
    path = Path(key_file)
    with contextlib.suppress(FileNotFoundError):
        return _read(path), None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another run created it first: use that one
        return _read(path), None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    return key, f"created the pseudonym key {path} (keep it: pseudonyms depend on it)"


def _read(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ValueError(f"{path}: the pseudonym key is too short (want 32+ characters)")
    return key
