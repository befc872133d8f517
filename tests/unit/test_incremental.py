"""The incremental shortcuts of the hot path equal the definitions they stand for.

``fold`` equals ``evolve`` one event at a time; ``newly_finished_hops`` equals comparing
``hops`` before and after; ``can_break_a_rule`` never hides a finding. Paths are drawn
with few nodes, few distinct times and repeated ids, so equal times and revisits (the
corners of the shortcuts) are common.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from builders import APPLE, BIRCH, TINY_NETWORK, scan
from lastmile.domain.detectors import PARCEL_DETECTORS, ParcelContext, can_break_a_rule
from lastmile.domain.engine import analyse_parcel
from lastmile.domain.facts import destination_of, hops, newly_finished_hops
from lastmile.domain.network import parse_network
from lastmile.domain.path import ParcelPath, evolve, fold
from lastmile.domain.rules import RuleConfig

NET = parse_network(TINY_NETWORK)
NODES = [None, "C-1", "T-E", "P-APPLE", "P-BIRCH", "NOT-A-NODE"]
TYPES = ["arrived", "departed", "out_for_delivery", "delivered", "returned", "fee_charged"]

_scans = st.lists(
    st.tuples(
        st.sampled_from(TYPES),
        st.integers(0, 6),  # minutes: few distinct times
        st.sampled_from(NODES),
        st.integers(0, 12),  # event id: repeats happen
    ),
    max_size=14,
)


def _events(drawn: list[tuple[str, int, str | None, int]]) -> list:  # type: ignore[type-arg]
    return [
        scan("P1", t, m, node, event_id=f"E{i}", dest=APPLE if i % 4 == 0 else False)
        for t, m, node, i in drawn
    ]


def _reference_new_hops(before: ParcelPath | None, after: ParcelPath) -> list:  # type: ignore[type-arg]
    done = (
        {(h.node_id, h.arrived_ts) for h in hops(before, NET) if h.departed_ts is not None}
        if before is not None
        else set()
    )
    return [
        h
        for h in hops(after, NET)
        if h.dwell_s is not None and (h.node_id, h.arrived_ts) not in done
    ]


@settings(max_examples=400, deadline=None)
@given(_scans, _scans)
def test_fold_equals_evolve_one_by_one(old: list, new: list) -> None:  # type: ignore[type-arg]
    start = reduce(evolve, _events(old), ParcelPath("P1"))
    events = _events(new)
    folded = fold(start, events)
    assert folded.path == reduce(evolve, events, start)
    ids = {s.event_id for s in start.scans}
    expected_new = []
    for e in events:
        if e.event_id not in ids:
            ids.add(e.event_id)
            expected_new.append(e)
    assert folded.new_scans == expected_new


@settings(max_examples=600, deadline=None)
@given(_scans, _scans, st.booleans())
def test_newly_finished_hops_equal_the_difference(old: list, new: list, fresh: bool) -> None:  # type: ignore[type-arg]
    before = None if fresh else reduce(evolve, _events(old), ParcelPath("P1"))
    after = fold(before or ParcelPath("P1"), _events(new)).path
    assert newly_finished_hops(before, after, NET) == _reference_new_hops(before, after)


@settings(max_examples=400, deadline=None)
@given(_scans)
def test_parcels_that_cannot_break_a_rule_have_no_finding(drawn: list) -> None:  # type: ignore[type-arg]
    path = reduce(evolve, _events(drawn), ParcelPath("P1"))
    a = analyse_parcel(path, NET, RuleConfig())
    if can_break_a_rule(path) or not a.inbound or a.dest.village is None:
        return
    # every detector, run without the shortcut, finds nothing on such a parcel
    ctx = ParcelContext(path, NET, RuleConfig(), a.dest, a.dest.village, ())
    assert [d(ctx) for d in PARCEL_DETECTORS] == [None] * len(PARCEL_DETECTORS)
    assert a.findings == () and a.signoffs == ()


_one = st.tuples(
    st.sampled_from(TYPES), st.integers(0, 6), st.sampled_from(NODES), st.integers(0, 12)
)


@settings(max_examples=800, deadline=None)
@given(_scans, _one)
def test_one_new_scan_folds_and_finishes_stays_as_the_definitions_say(
    old: list, one: tuple
) -> None:  # type: ignore[type-arg]
    """The single-scan shortcuts (``fold``, ``newly_finished_hops``): a batch mostly brings a
    parcel one scan, usually its newest; equal times and revisits are common here."""
    before = reduce(evolve, _events(old), ParcelPath("P1"))
    (event,) = _events([one])
    folded = fold(before, [event])
    assert folded.path == evolve(before, event)
    assert folded.new_scans == ([] if before.has_event(event) else [event])
    assert newly_finished_hops(before, folded.path, NET) == _reference_new_hops(before, folded.path)


def test_a_stay_begun_and_left_at_the_time_of_an_earlier_one_there_is_not_new() -> None:
    """The corner the single-scan shortcut leaves to the full comparison: same node, same
    arrival time as an earlier finished stay (a key seen before)."""
    old = [("arrived", 5, "C-1", 1), ("arrived", 5, "T-E", 2)]
    before = reduce(evolve, _events(old), ParcelPath("P1"))
    (left,) = _events([("departed", 5, "C-1", 3)])
    after = fold(before, [left]).path
    found = newly_finished_hops(before, after, NET)
    assert found == _reference_new_hops(before, after)
    assert [(h.node_id, h.arrived_ts) for h in found] == [("T-E", left.ts)]


_DESTS = [False, False, APPLE, BIRCH, None, "NOT-A-VILLAGE"]  # None: outbound, stated
_POINTS = [None, None, (36.1, 118.1), (36.2, 118.2)]
_dest_scans = st.lists(
    st.tuples(
        st.integers(0, 6), st.integers(0, 12), st.sampled_from(_DESTS), st.sampled_from(_POINTS)
    ),
    max_size=8,
)


def _dest_events(drawn: list[tuple[int, int, str | bool | None, Any]]) -> list:  # type: ignore[type-arg]
    return [
        scan("P1", "arrived", m, "C-1", event_id=f"E{i}", dest=d, dest_at=at)
        for m, i, d, at in drawn
    ]


@settings(max_examples=400, deadline=None)
@given(_dest_scans, _dest_scans)
def test_a_destination_kept_through_a_fold_is_the_one_the_path_has(old: list, new: list) -> None:  # type: ignore[type-arg]
    """``fold`` keeps ``destination_of``'s cached answer only when it cannot have changed."""
    before = reduce(evolve, _dest_events(old), ParcelPath("P1"))
    destination_of(before, NET)  # cached on ``before``
    events = _dest_events(new)
    folded = fold(before, events).path
    for e in events:  # one at a time too, as most batches bring them
        destination_of(before, NET)
        before = fold(before, [e]).path
    fresh = reduce(evolve, _dest_events(old) + events, ParcelPath("P1"))  # nothing cached
    assert fresh.destination_memo is None
    assert destination_of(folded, NET) == destination_of(fresh, NET)
    assert destination_of(before, NET) == destination_of(fresh, NET)
