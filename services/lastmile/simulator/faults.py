"""Data faults the simulator can inject for contract §7, each recorded in the truth.

- ``stalled_perishable``: perishable outbound parcels (农产品上行) that wait at their town
  centre for more than the 12-hour threshold: the first half are still there at the end
  (stalled now), the rest move on after 13-30 h (stalled once);
- ``silent_points``: village points with no scan of any kind during the whole simulation
  (their villages are served through another point, or not at all);
- ``missing_gps_carrier``: a carrier whose sign-offs carry no ``location`` (except the
  injected violations that need one);
- ``skewed_clock_carrier``: a carrier whose devices date every scan of its outbound
  parcels ``SKEW_DAYS`` ahead (a mistyped year): every such scan is ahead of any
  processing time before then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SKEW_DAYS = 3650


@dataclass(frozen=True)
class DataFaults:
    stalled_perishable: int = 0
    silent_points: int = 0
    missing_gps_carrier: str | None = None
    skewed_clock_carrier: str | None = None

    def check(self, carriers: Iterable[str]) -> None:
        """Refuse impossible requests by name (ValueError)."""
        known = sorted(carriers)
        if not 0 <= self.stalled_perishable <= 10_000:
            raise ValueError("stalled perishable parcels: want 0-10000")
        if not 0 <= self.silent_points <= 10_000:
            raise ValueError("silent points: want 0-10000")
        for what, code in (
            ("missing-GPS carrier", self.missing_gps_carrier),
            ("skewed-clock carrier", self.skewed_clock_carrier),
        ):
            if code is not None and code not in known:
                raise ValueError(f"{what} {code!r}: want one of {', '.join(known)}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "stalled_perishable": self.stalled_perishable,
            "silent_points": self.silent_points,
            "missing_gps_carrier": self.missing_gps_carrier,
            "skewed_clock_carrier": self.skewed_clock_carrier,
            "skew_days": SKEW_DAYS,
        }
