"""Data-quality indicators (contract §7): what a regulator checks before trusting a count.

Per carrier: distinct scans, sign-offs and those without ``location``, scans whose
``occurred_at`` runs more than ``clock_skew_s`` ahead of processing time, repeated
``event_id``s (producer retries) and invalid messages by reason. Per village point: the
newest scan, from which the silent points follow.

Pure: processing time is passed in with each scan. ``DataQualityTally`` is what
``lastmile detect`` fills while it reads a file; the streaming worker keeps the same
counts in Redis, and ``data_quality_figures`` turns either into the same figures.

The **data clock** ("now" of the outbound and silent-point figures) is the newest event
time of the scans that are not ahead of processing time: a device whose clock runs years
ahead must not make every other parcel look stalled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lastmile.domain.events import ScanEvent
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig

DAY = 86400.0
# the counters kept per carrier, in the order the figures list them
COUNTS = ("scans", "delivered", "delivered_without_location", "clock_skewed", "repeated")


def is_skewed(scan: ScanEvent, processing_ts: float, config: RuleConfig) -> bool:
    return scan.ts > processing_ts + config.clock_skew_s


@dataclass
class CarrierQuality:
    counts: Counter[str] = field(default_factory=Counter)  # COUNTS
    invalid: Counter[str] = field(default_factory=Counter)  # reason → messages

    def as_dict(self, config: RuleConfig) -> dict[str, Any]:
        c = self.counts
        delivered, scans = c["delivered"], c["scans"]
        unlocated = c["delivered_without_location"] / delivered if delivered else None
        skewed = c["clock_skewed"] / scans if scans else None
        flags = []
        if unlocated is not None and unlocated > config.signoffs_without_location_share:
            flags.append("signoffs_without_location")
        if skewed is not None and skewed > config.clock_skewed_share:
            flags.append("clock_skewed")
        return {
            **{k: c[k] for k in COUNTS},
            "delivered_without_location_share": _share(unlocated),
            "clock_skewed_share": _share(skewed),
            "invalid": sum(self.invalid.values()),
            "invalid_by_reason": dict(sorted(self.invalid.items())),
            "flags": flags,
        }


def _share(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


@dataclass
class DataClock:
    """First and newest event time of the scans that are not ahead of processing time."""

    first: float = float("inf")
    newest: float = float("-inf")

    def see(self, ts: float) -> None:
        if ts < self.first:
            self.first = ts
        if ts > self.newest:
            self.newest = ts

    @property
    def known(self) -> bool:
        return self.newest > float("-inf")


Count = tuple[int, str, str]  # (hour, carrier, counter name or "invalid:<reason>")
INVALID = "invalid:"
HOUR_S = 3600


def hour_of(ts: float) -> int:
    """Epoch hour of a time: counts are kept per hour, so any calendar day (China's is
    whole hours from UTC) is a sum of them."""
    return int(ts // HOUR_S)


def carriers_from_counts(
    counts: Iterable[tuple[Count, int]], start: float = float("-inf"), end: float = float("inf")
) -> dict[str, CarrierQuality]:
    """Per-carrier figures of the hourly counts whose hour starts in [start, end)."""
    out: dict[str, CarrierQuality] = {}
    for (hour, carrier, name), n in counts:
        if not start <= hour * HOUR_S < end:
            continue
        q = out.get(carrier)
        if q is None:
            q = out[carrier] = CarrierQuality()
        if name.startswith(INVALID):
            q.invalid[name.removeprefix(INVALID)] += n
        else:
            q.counts[name] += n
    return out


@dataclass
class DataQualityTally:
    """The offline collector: fed every valid scan and every refused message of a file, in
    the file's order (the order they arrived).

    Counts are kept per hour: a scan under the hour of its event time; a scan dated ahead
    of processing time, and a refused message, under the hour of the newest data seen so
    far (the data clock), as the worker files them.
    """

    network: Network
    config: RuleConfig
    processing_ts: float  # the file's processing time (``--as-of``)
    hourly: Counter[Count] = field(default_factory=Counter)
    point_last: dict[str, float] = field(default_factory=dict)
    clock: DataClock = field(default_factory=DataClock)
    _seen: set[tuple[str, str]] = field(default_factory=set)  # (parcel, event id), as paths

    @property
    def carriers(self) -> dict[str, CarrierQuality]:
        return carriers_from_counts(self.hourly.items())

    def _clock_hour(self) -> int:
        return hour_of(self.clock.newest if self.clock.known else self.processing_ts)

    def scan(self, e: ScanEvent) -> None:
        skewed = is_skewed(e, self.processing_ts, self.config)
        hour = self._clock_hour() if skewed else hour_of(e.ts)
        seen = (e.parcel_id, e.event_id)
        if seen in self._seen:
            self.hourly[(hour, e.carrier, "repeated")] += 1
            return
        self._seen.add(seen)
        for key in scan_counts(e, self.processing_ts, self.config):
            self.hourly[(hour, e.carrier, key)] += 1
        if not skewed:
            self.clock.see(e.ts)
            if self.network.tiers.get(e.node_id) == "village":
                point = e.node_id
                assert point is not None
                if e.ts > self.point_last.get(point, float("-inf")):
                    self.point_last[point] = e.ts

    def invalid(self, carrier: str, reason: str) -> None:
        """A refused message (its carrier as ``contract.decode.carrier_of_invalid`` reads it)."""
        self.hourly[(self._clock_hour(), carrier, INVALID + reason)] += 1


def scan_counts(e: ScanEvent, processing_ts: float, config: RuleConfig) -> Iterable[str]:
    """The per-carrier counters one new (not repeated) scan moves."""
    yield "scans"
    if e.type == "delivered":
        yield "delivered"
        if not e.located:
            yield "delivered_without_location"
    if is_skewed(e, processing_ts, config):
        yield "clock_skewed"


def silent_points(
    point_last: Mapping[str, float],
    network: Network,
    first: float,
    now: float,
    config: RuleConfig,
) -> list[dict[str, Any]]:
    """Village points with no scan in the ``silent_point_days`` before ``now``.

    Judged only once the data covers that long (a new deployment is not "silent").
    """
    window = config.silent_point_days * DAY
    if now - first < window:
        return []
    out = []
    for village in network.villages.values():
        for point in village.points:
            last = point_last.get(point)
            if last is None or last <= now - window:
                out.append(
                    {
                        "point": point,
                        "village": village.code,
                        "town": village.town,
                        "last_scan_ts": last,
                    }
                )
    return sorted(out, key=lambda d: d["point"])


def data_quality_figures(
    carriers: Mapping[str, CarrierQuality],
    point_last: Mapping[str, float],
    clock: DataClock,
    network: Network,
    config: RuleConfig,
) -> dict[str, Any]:
    silent = (
        silent_points(point_last, network, clock.first, clock.newest, config) if clock.known else []
    )
    by_town = Counter(p["town"] for p in silent)
    return {
        "data_clock": {
            "first_ts": clock.first if clock.known else None,
            "now_ts": clock.newest if clock.known else None,
        },
        "silent_points": silent,
        "silent_points_by_town": {t: by_town.get(t, 0) for t in sorted(network.towns)},
        "by_carrier": {c: q.as_dict(config) for c, q in sorted(carriers.items())},
    }
