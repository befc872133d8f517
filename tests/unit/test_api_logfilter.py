"""Malformed requests cost one log line now and then, not a traceback each."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import BadHttpMessage

from lastmile.api.logfilter import MalformedRequests


def _record(exc: BaseException | None) -> logging.LogRecord:
    info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord(
        "aiohttp.server", logging.ERROR, "x", 1, "Error handling request", (), info
    )  # type: ignore[arg-type]


def test_malformed_requests_become_one_rate_limited_line() -> None:
    flt = MalformedRequests(every_s=3600)
    first = _record(BadHttpMessage("Invalid character in Content-Length:\n\n  b'-1'"))
    assert flt.filter(first)
    assert first.exc_info is None and first.levelno == logging.WARNING
    assert "\n" not in first.getMessage() and "Content-Length" in first.getMessage()
    kept = [flt.filter(_record(BadHttpMessage("bad"))) for _ in range(99)]
    assert not any(kept)  # 100 malformed requests: one line until the next period


def test_other_records_pass_unchanged() -> None:
    flt = MalformedRequests(every_s=3600)
    rec = _record(RuntimeError("a real bug"))
    assert flt.filter(rec) and rec.exc_info is not None and rec.levelno == logging.ERROR
    assert flt.filter(_record(None))
