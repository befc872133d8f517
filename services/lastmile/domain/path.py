"""ParcelPath: the event-sourced state of one parcel, and the fold ``evolve``.

The state is the *set* of distinct events of a parcel (by ``event_id`` /
``complaint_id``), kept sorted by (event time, id). Folding is therefore idempotent
(a repeated event is a no-op) and commutative (arrival order never changes the
state), which is what makes the streaming answer equal the offline answer.
Everything else (hops, dwell, handovers, destination) is derived from that set.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from lastmile.domain.events import ComplaintEvent, Event, ScanEvent


@dataclass(frozen=True, slots=True)
class ParcelPath:
    parcel_id: str
    scans: tuple[ScanEvent, ...] = ()
    complaints: tuple[ComplaintEvent, ...] = ()

    @property
    def last_ts(self) -> float:
        """Event time of the newest event (drives retention)."""
        last_scan = self.scans[-1].ts if self.scans else float("-inf")
        last_complaint = self.complaints[-1].ts if self.complaints else float("-inf")
        return max(last_scan, last_complaint)

    def has_event(self, event: Event) -> bool:
        if isinstance(event, ScanEvent):
            return any(s.event_id == event.event_id for s in self.scans)
        return any(c.complaint_id == event.complaint_id for c in self.complaints)


# (event time, id) as C-level getters: the sort keys of the hot path
_scan_key = itemgetter(5, 0)  # ScanEvent.ts, ScanEvent.event_id
_complaint_key = itemgetter(4, 0)  # ComplaintEvent.ts, ComplaintEvent.complaint_id
_id = itemgetter(0)  # ScanEvent.event_id, ComplaintEvent.complaint_id


def evolve(path: ParcelPath, event: Event) -> ParcelPath:
    """Fold one event into a parcel's path; a repeated id leaves the path unchanged."""
    if event.parcel_id != path.parcel_id:
        raise ValueError(f"event of parcel {event.parcel_id!r} folded into {path.parcel_id!r}")
    if path.has_event(event):
        return path
    if isinstance(event, ScanEvent):
        scans = list(path.scans)
        insort(scans, event, key=_scan_key)
        return ParcelPath(path.parcel_id, tuple(scans), path.complaints)
    complaints = list(path.complaints)
    insort(complaints, event, key=_complaint_key)
    return ParcelPath(path.parcel_id, path.scans, tuple(complaints))


class Folded(NamedTuple):
    path: ParcelPath
    new_scans: list[ScanEvent]  # in the order they were folded
    new_complaints: list[ComplaintEvent]


def fold(path: ParcelPath, events: Iterable[Event]) -> Folded:
    """Fold events in order, as ``evolve`` one by one would; also say which ones were new."""
    pid = path.parcel_id
    scan_ids: set[str] | None = None
    complaint_ids: set[str] | None = None
    new_scans: list[ScanEvent] = []
    new_complaints: list[ComplaintEvent] = []
    for e in events:
        if e.parcel_id != pid:
            raise ValueError(f"event of parcel {e.parcel_id!r} folded into {pid!r}")
        if isinstance(e, ScanEvent):
            if scan_ids is None:
                scan_ids = set(map(_id, path.scans))
            if e.event_id not in scan_ids:
                scan_ids.add(e.event_id)
                new_scans.append(e)
        else:
            if complaint_ids is None:
                complaint_ids = set(map(_id, path.complaints))
            if e.complaint_id not in complaint_ids:
                complaint_ids.add(e.complaint_id)
                new_complaints.append(e)
    if not new_scans and not new_complaints:
        return Folded(path, new_scans, new_complaints)
    # (time, id) keys are distinct within a path, so one sort puts each where insort would
    scans = path.scans
    if new_scans:
        scans = tuple(sorted((*scans, *new_scans), key=_scan_key))
    complaints = path.complaints
    if new_complaints:
        complaints = tuple(sorted((*complaints, *new_complaints), key=_complaint_key))
    return Folded(ParcelPath(pid, scans, complaints), new_scans, new_complaints)


def path_from_events(parcel_id: str, events: Iterable[Event]) -> ParcelPath:
    """The path folded from a batch of events: equal to folding them one by one."""
    scans: dict[str, ScanEvent] = {}
    complaints: dict[str, ComplaintEvent] = {}
    for e in events:
        if isinstance(e, ScanEvent):
            scans.setdefault(e.event_id, e)
        else:
            complaints.setdefault(e.complaint_id, e)
    return ParcelPath(
        parcel_id,
        tuple(sorted(scans.values(), key=_scan_key)),
        tuple(sorted(complaints.values(), key=_complaint_key)),
    )
