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
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

from lastmile.domain.events import ComplaintEvent, Event, ScanEvent

if TYPE_CHECKING:
    from lastmile.domain.facts import Destination
    from lastmile.domain.network import Network


_NEVER = float("-inf")


@dataclass(frozen=True, slots=True)
class ParcelPath:
    parcel_id: str
    scans: tuple[ScanEvent, ...] = ()
    complaints: tuple[ComplaintEvent, ...] = ()
    # ``facts.destination_of``'s answer and the network it used: a cache, not state (never
    # stored, compared, or copied by ``replace``); ``fold`` keeps it when no new scan names
    # a destination, as only such scans decide it
    destination_memo: tuple[Network, Destination] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    @property
    def last_ts(self) -> float:
        """Event time of the newest event (drives retention)."""
        scans, complaints = self.scans, self.complaints
        if not complaints:  # most parcels
            return scans[-1].ts if scans else _NEVER
        last_scan = scans[-1].ts if scans else _NEVER
        return max(last_scan, complaints[-1].ts)

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


_new = tuple.__new__  # a NamedTuple's own __new__ costs a Python call per record


class Folded(NamedTuple):
    path: ParcelPath
    new_scans: list[ScanEvent]  # in the order they were folded
    new_complaints: list[ComplaintEvent]


def fold(path: ParcelPath, events: Iterable[Event]) -> Folded:
    """Fold events in order, as ``evolve`` one by one would; also say which ones were new."""
    pid = path.parcel_id
    if type(events) is list and len(events) == 1 and type(events[0]) is ScanEvent:
        return _fold_one_scan(path, events[0])
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
    folded = _successor(path, ParcelPath(pid, scans, complaints), new_scans)
    return Folded(folded, new_scans, new_complaints)


def _successor(before: ParcelPath, after: ParcelPath, new_scans: list[ScanEvent]) -> ParcelPath:
    """``after`` (``before`` with ``new_scans`` folded in), keeping what it can of the cache."""
    memo = before.destination_memo
    if memo is not None and not any(
        s.has_dest_village or s.dest_lat is not None for s in new_scans
    ):
        object.__setattr__(after, "destination_memo", memo)
    return after


def _fold_one_scan(path: ParcelPath, e: ScanEvent) -> Folded:
    """``fold`` of a single scan, the common case of a batch (one event per parcel): a scan
    later than every scan of the path (most are) is appended without sorting."""
    if e.parcel_id != path.parcel_id:
        raise ValueError(f"event of parcel {e.parcel_id!r} folded into {path.parcel_id!r}")
    scans = path.scans
    if e.event_id in map(_id, scans):
        return _new(Folded, (path, [], []))  # type: ignore[no-any-return]
    if not scans or _scan_key(e) > _scan_key(scans[-1]):
        scans = (*scans, e)
    else:
        scans = tuple(sorted((*scans, e), key=_scan_key))
    after = ParcelPath(path.parcel_id, scans, path.complaints)
    memo = path.destination_memo
    if memo is not None and not e.has_dest_village and e.dest_lat is None:
        object.__setattr__(after, "destination_memo", memo)  # as _successor
    return _new(Folded, (after, [e], []))  # type: ignore[no-any-return]


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
