"""The semi-monthly schedule: towns report before the 10th and the 20th of each month.

Periods are calendar half-months, so two reports a month cover every day once:
  - the report due by the 20th covers the 1st–15th of the same month;
  - the report due by the 10th covers the 16th–last day of the previous month.
``due_review(as_of)`` gives the latest half-month that has ended before ``as_of``: run
on the 16th (or any day up to the 20th) it yields the 1st–15th; run on the 1st (up to
the 10th) the second half of the previous month. deploy/systemd runs it on the 1st and
the 16th at 06:00 China time, leaving the office days to read the reports before they
are due; a rerun rewrites the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from lastmile.review.period import Period

SCHEDULES = ("semi-monthly",)


@dataclass(frozen=True)
class Due:
    due: date  # the report must reach the office before this day
    period: Period


def due_review(as_of: date) -> Due:
    if as_of.day >= 16:
        return Due(as_of.replace(day=20), Period(as_of.replace(day=1), as_of.replace(day=15)))
    last_of_prev = as_of.replace(day=1) - timedelta(days=1)
    return Due(as_of.replace(day=10), Period(last_of_prev.replace(day=16), last_of_prev))
