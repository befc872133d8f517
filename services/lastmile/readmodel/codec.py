"""How read-model values are encoded: days, rollup fields, parcel paths."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from lastmile.io.codec import decode_path, encode_path

CHINA = timezone(timedelta(hours=8))


def china_day(ts: float) -> str:
    """The China (UTC+8) calendar day of an event time: the rollups' day."""
    return datetime.fromtimestamp(ts, CHINA).date().isoformat()


def rollup_field(*parts: str) -> str:
    return "|".join(parts)


def split_field(field: bytes | str) -> list[str]:
    return (field.decode() if isinstance(field, bytes) else field).split("|")


__all__ = ["CHINA", "china_day", "decode_path", "encode_path", "rollup_field", "split_field"]
