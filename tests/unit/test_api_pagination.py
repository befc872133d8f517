"""Cursors and query parsing of the violation lists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lastmile.api.errors import ApiError
from lastmile.api.pagination import (
    MAX_LIMIT,
    Position,
    decode_cursor,
    encode_cursor,
    is_stream_id,
    parse_cursor,
    parse_limit,
    parse_time,
)


@given(st.floats(allow_nan=False, allow_infinity=False), st.text(min_size=1, max_size=80))
def test_cursor_round_trips_exactly(score: float, vid: str) -> None:
    pos = Position(score, vid)
    cursor = encode_cursor(pos)
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert decode_cursor(cursor) == pos


@pytest.mark.parametrize(
    "bad",
    ["", "!!!", "bm90IGpzb24", "WzFd", "WyJhIiwiYiJd", "WzEsIiJd", "W3RydWUsInYiXQ", "x" * 600],
)
def test_foreign_cursors_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_cursor(bad)
    with pytest.raises(ApiError) as exc:
        parse_cursor(bad)
    assert exc.value.status == 400  # not one this API hands out


def test_positions_order_by_occurred_at_then_id() -> None:
    assert Position(1.0, "b") < Position(2.0, "a")
    assert Position(1.0, "a") < Position(1.0, "b")


def test_limit_parsing() -> None:
    assert parse_limit(None) == 100
    assert parse_limit("1") == 1
    assert parse_limit(str(MAX_LIMIT)) == MAX_LIMIT
    for bad in ("0", "-1", str(MAX_LIMIT + 1), "ten", "1.5", ""):
        with pytest.raises(ApiError) as exc:
            parse_limit(bad)
        assert exc.value.status == 422


def test_times_need_an_offset() -> None:
    assert parse_time("from", "2026-11-02T08:00:00+08:00") == 1793577600.0
    assert parse_time("from", None) is None
    for bad in ("2026-11-02T08:00:00", "yesterday", "2026-11-02", ""):
        with pytest.raises(ApiError):
            parse_time("from", bad)


def test_stream_ids() -> None:
    assert is_stream_id("0-0")
    assert is_stream_id("1793577600000-12")
    assert not is_stream_id("18446744073709551616-0")  # 2**64 does not fit
    for bad in ("", "1", "1-", "-1", "a-b", "1-2-3", "1 -2"):
        assert not is_stream_id(bad)
