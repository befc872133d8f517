"""The law behind the rulebook: order and repeats never change the violation set."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce

from hypothesis import given, settings
from hypothesis import strategies as st

from builders import APPLE, BIRCH, CEDAR, complaint, inbound_path, scan
from lastmile.domain.engine import detect_events
from lastmile.domain.path import ParcelPath, evolve, path_from_events
from lastmile.domain.rules import RuleConfig

NOW = datetime(2026, 11, 10, tzinfo=UTC)


def _scenario():
    """A mixed day: clean parcels, every per-parcel rule, a bulk burst, returns, outbound."""
    ev = []
    ev += [*inbound_path("OK1"), scan("OK1", "delivered", 720, "P-APPLE", signoff="proxy")]
    ev += [*inbound_path("W1"), scan("W1", "delivered", 720, "T-E")]
    ev += [*inbound_path("W2"), scan("W2", "delivered", 720, "P-BIRCH", gps=False)]
    ev += [*inbound_path("W3"), scan("W3", "delivered", 720, None, at=(36.1, 118.04))]
    ev += [
        *inbound_path("F1"),
        scan("F1", "delivered", 705, "P-APPLE"),
        scan("F1", "arrived", 730, "P-APPLE"),
    ]
    ev += [
        *inbound_path("R1"),
        scan("R1", "delivered", 705, "P-APPLE"),
        scan("R1", "returned", 720, "P-APPLE"),
        scan("R1", "departed", 800, "P-APPLE"),
    ]
    ev += [scan("X1", "arrived", 0, "T-W", dest=APPLE), scan("X1", "delivered", 2, "P-APPLE")]
    ev += [
        *inbound_path("C1"),
        scan("C1", "delivered", 720, "P-APPLE"),
        complaint("C1", "not_received", 2000),
    ]
    ev += [
        *inbound_path("C2"),
        complaint("C2", "not_received", 2000),
        complaint("C2", "extra_fee", 2001),
    ]
    ev += [*inbound_path("FEE"), scan("FEE", "fee_charged", 710, "P-APPLE", fee=(5, "other"))]
    ev += [
        scan("OUT", "collected", 0, "P-CEDAR-1", dest=None),
        scan("OUT", "fee_charged", 1, "P-CEDAR-1"),
    ]
    points = {APPLE: "P-APPLE", BIRCH: "P-BIRCH", CEDAR: "P-CEDAR-1"}
    for i in range(11):
        v = (APPLE, BIRCH, CEDAR)[i % 3]
        ev += [
            scan(f"B{i}", "arrived", 0, "T-E", dest=v, gps=False),
            scan(f"B{i}", "delivered", 600 + i * 0.08, points[v], courier="K", gps=False),
        ]
    return ev


SCENARIO = _scenario()


def test_the_scenario_exercises_every_rule(network):
    found = {(v["type"], v["rule"]) for v in detect_events(SCENARIO, network, RuleConfig(), NOW)}
    assert found == {
        ("wrong_address", "left_at_town_or_county"),
        ("wrong_address", "wrong_village_point"),
        ("wrong_address", "far_from_address"),
        ("false_signoff", "movement_after_signoff"),
        ("false_signoff", "impossible_travel"),
        ("false_signoff", "bulk_signoff"),
        ("false_signoff", "complaint"),
        ("extra_fee", "fee_charged"),
        ("extra_fee", "complaint"),
    }


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_permutation_and_duplication_gives_the_same_violations(network, data):
    reference = detect_events(SCENARIO, network, RuleConfig(), NOW)
    extra = data.draw(st.lists(st.sampled_from(SCENARIO), max_size=40))
    shuffled = data.draw(st.permutations(SCENARIO + extra))
    again = detect_events(shuffled, network, RuleConfig(), NOW)
    assert again == reference


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_folding_one_by_one_in_any_order_equals_the_batch_fold(data):
    events = [e for e in SCENARIO if e.parcel_id == "R1"] + [complaint("R1", "other", 5)]
    order = data.draw(st.permutations(events + events[:3]))
    folded = reduce(evolve, order, ParcelPath("R1"))
    assert folded == path_from_events("R1", events)


def test_a_repeated_event_is_a_no_op():
    (first, *_) = inbound_path("P9")
    path = evolve(ParcelPath("P9"), first)
    assert evolve(path, first) is path
