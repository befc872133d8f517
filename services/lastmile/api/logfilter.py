"""Keep malformed requests from flooding the log with tracebacks.

aiohttp's low-level server logs every request it cannot parse (a bad request line, a bad
header, a bad chunk) at ERROR with a traceback: ~11 lines per request an anonymous client
can send at will. This filter turns those into one WARNING line, at most one every
``every_s`` seconds with the number folded into it; any other record passes unchanged.
"""

from __future__ import annotations

import logging
import time

from aiohttp.http_exceptions import HttpProcessingError


class MalformedRequests(logging.Filter):
    def __init__(self, every_s: float = 10.0) -> None:
        super().__init__()
        self.every_s = every_s
        self._last = float("-inf")
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        now = time.monotonic()
        if now - self._last < self.every_s:
            self._suppressed += 1
            return False
        first = (str(exc.message).strip().splitlines() or [""])[0][:120]
        record.msg = "malformed request (HTTP %s: %s); %d more since the last report"
        record.args = (exc.code, first, self._suppressed)
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        self._last, self._suppressed = now, 0
        return True


def install(logger_name: str = "aiohttp.server") -> MalformedRequests:
    flt = MalformedRequests()
    logging.getLogger(logger_name).addFilter(flt)
    return flt
