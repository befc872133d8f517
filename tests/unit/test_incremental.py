"""The incremental shortcuts of the hot path equal the definitions they stand for.

``fold`` equals ``evolve`` one event at a time; ``newly_finished_hops`` equals comparing
``hops`` before and after; ``can_break_a_rule`` never hides a finding. Paths are drawn
with few nodes, few distinct times and repeated ids, so equal times and revisits (the
corners of the shortcuts) are common.
"""

from __future__ import annotations

from functools import reduce

from hypothesis import given, settings
from hypothesis import strategies as st

from builders import APPLE, TINY_NETWORK, scan
from lastmile.domain.detectors import PARCEL_DETECTORS, ParcelContext, can_break_a_rule
from lastmile.domain.engine import analyse_parcel
from lastmile.domain.facts import hops, newly_finished_hops
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
