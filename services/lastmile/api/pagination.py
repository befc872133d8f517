"""Query-string parsing and opaque cursors for the violation lists.

Lists are ordered by (occurred_at, violation_id), which is exactly the order of the Redis
index zsets (score, then member bytes). A cursor is the position of the last item returned,
``base64url(JSON [score, violation_id])``; the next page starts strictly after it, so
violations inserted while a client pages never shift, repeat or skip the others.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from datetime import datetime

import orjson
from multidict import MultiMapping

from lastmile.api.errors import invalid, malformed

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True, order=True)
class Position:
    score: float
    violation_id: str


def encode_cursor(pos: Position) -> str:
    raw = orjson.dumps([pos.score, pos.violation_id])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> Position:
    """The position in a cursor; ValueError if it is not one this API made."""
    if not cursor or len(cursor) > 512:
        raise ValueError("bad cursor length")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        score, vid = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError("undecodable cursor") from exc
    if isinstance(score, bool) or not isinstance(score, int | float) or not isinstance(vid, str):
        raise ValueError("malformed cursor")
    if not math.isfinite(score) or not vid:
        raise ValueError("malformed cursor")
    return Position(float(score), vid)


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    # int() would accept " 5", "1_0" and non-ASCII digits
    value = int(raw) if _LIMIT.fullmatch(raw) else 0
    if not 1 <= value <= MAX_LIMIT:
        raise invalid(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return value


def parse_time(name: str, raw: str | None) -> float | None:
    """An RFC 3339 time with an explicit offset, as epoch seconds."""
    if raw is None:
        return None
    try:
        dt = datetime.fromisoformat(raw)
        if dt.tzinfo is None:
            raise ValueError("no offset")
        return dt.timestamp()
    except (ValueError, OverflowError):
        raise invalid(f"{name} must be an RFC 3339 time with an offset") from None


def parse_cursor(raw: str | None) -> Position | None:
    if raw is None:
        return None
    try:
        return decode_cursor(raw)
    except ValueError:
        raise malformed("cursor is not a cursor returned by this API") from None


def one(query: MultiMapping[str], name: str, max_len: int = 64) -> str | None:
    """A query parameter given at most once, of bounded length."""
    values = query.getall(name, [])
    if not values:
        return None
    if len(values) > 1:
        raise invalid(f"{name} given more than once")
    value = values[0]
    if not value or len(value) > max_len:
        raise invalid(f"{name} must be 1-{max_len} characters")
    return value


# ASCII digits only (\d would take any Unicode digit) and a full match ($ would allow "\n")
_STREAM_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})", re.ASCII)
_LIMIT = re.compile(r"[0-9]{1,4}", re.ASCII)


def is_stream_id(value: str) -> bool:
    """A Redis stream entry id ``ms-seq`` with both parts within 64 bits."""
    m = _STREAM_ID.fullmatch(value)
    return m is not None and all(int(g) < 2**64 for g in m.groups())
