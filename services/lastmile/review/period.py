"""Review periods: inclusive ranges of China dates (UTC+8).

An event belongs to the period holding the China date of its time: a violation by its
``occurred_at``, a delivery by its sign-off, a complaint by ``filed_at``, a parcel by its
first scan. Pure; no clock is read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

CHINA = timezone(timedelta(hours=8))


def china_day(ts: float) -> str:
    """China date (YYYY-MM-DD) of an epoch time; the worker's rollups use the same."""
    return datetime.fromtimestamp(ts, CHINA).date().isoformat()


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date YYYY-MM-DD") from None


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def parse(cls, start: str, end: str) -> Period:
        return cls(parse_date(start), parse_date(end))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def day_list(self) -> list[str]:
        return [(self.start + timedelta(days=i)).isoformat() for i in range(self.days)]

    @property
    def start_ts(self) -> float:
        """Epoch seconds of the period's first instant (00:00 China time)."""
        return datetime.combine(self.start, time(0), CHINA).timestamp()

    @property
    def end_ts(self) -> float:
        """Epoch seconds just after the period (00:00 China time of the next day)."""
        return datetime.combine(self.end + timedelta(days=1), time(0), CHINA).timestamp()

    def contains_ts(self, ts: float) -> bool:
        return self.start_ts <= ts < self.end_ts

    def contains_day(self, day: str) -> bool:
        return self.start.isoformat() <= day <= self.end.isoformat()

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    def label(self) -> str:
        return f"{self.start.isoformat()} – {self.end.isoformat()}"

    def slug(self) -> str:
        return f"{self.start.isoformat()}_{self.end.isoformat()}"
