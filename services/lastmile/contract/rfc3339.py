"""RFC 3339 times with an explicit offset: the only time format the contract accepts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

# date "T" time, optional fraction, and a mandatory offset (Z or ±hh:mm).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)


class TimeFormatError(ValueError):
    """A value that is not an RFC 3339 time with an explicit offset."""


def parse_rfc3339(value: Any) -> datetime:
    """Parse an RFC 3339 string with offset; refuse numbers, naive times and other ISO forms."""
    if not isinstance(value, str):
        raise TimeFormatError(f"expected an RFC 3339 string, got {type(value).__name__}")
    if _RFC3339.fullmatch(value) is None:
        raise TimeFormatError(f"not an RFC 3339 time with offset: {value[:40]!r}")
    text = value
    if "." in text:
        # Python takes at most 6 fractional digits; RFC 3339 allows more.
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if digits > 6:
            text = head + "." + rest[:6] + rest[digits:]
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:  # e.g. month 13
        raise TimeFormatError(f"not a valid time: {value[:40]!r}") from exc
