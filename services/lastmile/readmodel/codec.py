"""How read-model values are encoded: days, rollup fields, parcel paths."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from functools import lru_cache

from lastmile.io.codec import decode_path, encode_path

CHINA = timezone(timedelta(hours=8))


_EPOCH = date(1970, 1, 1)
_OFFSET_S = 8 * 3600


def china_day(ts: float) -> str:
    """The China (UTC+8) calendar day of an event time: the rollups' day."""
    return _day_name(int((ts + _OFFSET_S) // 86400))


@lru_cache(maxsize=4096)
def _day_name(days_since_epoch: int) -> str:
    return (_EPOCH + timedelta(days=days_since_epoch)).isoformat()


def rollup_field(*parts: str) -> str:
    return "|".join(parts)


def split_field(field: bytes | str) -> list[str]:
    return (field.decode() if isinstance(field, bytes) else field).split("|")


__all__ = ["CHINA", "china_day", "decode_path", "encode_path", "rollup_field", "split_field"]
