"""The worker's batch step and codecs, without a broker: the same answers as detect."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from builders import APPLE, BIRCH, CEDAR, complaint, inbound_path, scan
from lastmile.domain.engine import detect_events
from lastmile.domain.path import ParcelPath
from lastmile.domain.rules import RuleConfig
from lastmile.worker.codec import (
    SignoffsCodec,
    decode_path,
    decode_signoff,
    encode_path,
    encode_signoff,
)
from lastmile.worker.step import apply_batch

NOW = datetime(2026, 11, 10, tzinfo=UTC)
SRC = ("scans.v1", 0)


def stream_through(events, network, batch_size, seed=0):
    """Feed events in shuffled batches, keep the table, collect findings like the gate does."""
    table: dict[str, ParcelPath] = {}
    published: dict[str, str] = {}
    signoffs = {}
    order = list(events)
    random.Random(seed).shuffle(order)
    for i in range(0, len(order), batch_size):
        batch = [(e, SRC) for e in order[i : i + batch_size]]
        outcome, to_store, sent = apply_batch(batch, table.get, network, RuleConfig())
        table.update(to_store)
        for f, _, _ in outcome.findings():
            published.setdefault(f.violation_id, f.rule)
        for s, _, _ in sent:
            signoffs[s.event_id] = s
    return table, published, signoffs


def scenario():
    ev = [*inbound_path("W1"), scan("W1", "delivered", 720, "T-E")]
    ev += [
        *inbound_path("F1"),
        scan("F1", "delivered", 705, "P-APPLE"),
        scan("F1", "arrived", 730, "P-APPLE"),
    ]
    ev += [
        *inbound_path("C1"),
        scan("C1", "delivered", 720, "P-APPLE"),
        complaint("C1", "not_received", 900),
    ]
    ev += [
        *inbound_path("R1", BIRCH, "P-BIRCH"),
        scan("R1", "fee_charged", 710, "P-BIRCH", fee=(9, "other")),
    ]
    ev += [
        scan("OUT", "collected", 0, "P-CEDAR-1", dest=None),
        scan("OUT", "fee_charged", 1, "P-CEDAR-1"),
    ]
    return ev


def test_streaming_in_any_batches_finds_what_detect_finds(network):
    events = scenario()
    offline = {
        v["violation_id"]: v["rule"] for v in detect_events(events, network, RuleConfig(), NOW)
    }
    for batch_size in (1, 3, 7, 100):
        for seed in range(3):
            _, published, _ = stream_through(events + events[:5], network, batch_size, seed)
            assert published == offline, (batch_size, seed)


def test_signoffs_are_sent_once_the_destination_is_known(network):
    # the sign-off arrives before the scan that names the destination
    delivered = scan("L1", "delivered", 720, "P-APPLE", courier="K-9")
    first = scan("L1", "arrived", 0, "C-1", dest=APPLE)
    table: dict = {}
    _, store, sent = apply_batch([(delivered, SRC)], table.get, network, RuleConfig())
    table.update(store)
    assert sent == []
    _, store, sent = apply_batch([(first, SRC)], table.get, network, RuleConfig())
    assert [s.event_id for s, _, _ in sent] == [delivered.event_id]


def test_first_delivery_and_end_to_end_are_reported_once(network):
    events = [*inbound_path("D1"), scan("D1", "delivered", 720, "P-APPLE")]
    table: dict = {}
    outcome, store, _ = apply_batch([(e, SRC) for e in events], table.get, network, RuleConfig())
    table.update(store)
    (u,) = outcome.updates
    assert u.first_delivery is not None and u.end_to_end_h == 12.0
    again, _, _ = apply_batch([(events[-1], SRC)], table.get, network, RuleConfig())
    assert again.updates[0].first_delivery is None and again.duplicates == 1


def test_expired_state_is_dropped_after_the_retention_period(network):
    old = scan("E1", "arrived", 0, "C-1", dest=APPLE)
    table = {"E1": ParcelPath("E1", (old,))}
    later = scan("E1", "arrived", 31 * 24 * 60, "C-1", dest=CEDAR)
    _, store, _ = apply_batch([(later, SRC)], table.get, network, RuleConfig())
    assert store["E1"].scans == (later,)


def test_path_codec_round_trips(network):
    events = [
        *inbound_path("P1"),
        scan("P1", "fee_charged", 710, "P-APPLE", fee=(3.5, "other")),
        scan("P1", "handover", 711, "T-E", to_carrier="EMS"),
    ]
    path = ParcelPath(
        "P1",
        tuple(sorted(events, key=lambda e: (e.ts, e.event_id))),
        (complaint("P1", "extra_fee", 800),),
    )
    assert decode_path(encode_path(path)) == path


def test_signoff_codecs_round_trip(network):
    from lastmile.domain.engine import analyse_parcel

    a = analyse_parcel(
        ParcelPath(
            "S1",
            (
                scan("S1", "arrived", 0, "C-1", dest=APPLE),
                scan("S1", "delivered", 700, "P-APPLE", courier="K-1"),
            ),
        ),
        network,
        RuleConfig(),
    )
    (s,) = a.signoffs
    assert decode_signoff(encode_signoff(s, "990001101", False, "ZTO")) == (
        s,
        "990001101",
        False,
        "ZTO",
    )
    codec = SignoffsCodec()
    records = [(s, "990001101", False, "ZTO")]
    assert codec.loads(codec.dumps(records)) == records


def test_expiry_index_drops_parcels_idle_longer_than_the_retention():
    from lastmile.worker.expiry import ExpiryIndex

    last = {"A": 100.0, "B": 200.0, "C": 300.0}
    index = ExpiryIndex()
    index.touch(0, [("A", 100.0), ("B", 200.0)])
    index.touch(1, [("C", 300.0)])
    index.touch(0, [("A", 100.0)])  # noted once
    assert len(index) == 3
    last["A"] = 260.0  # touched again since it was noted
    assert index.expired(0, 250.0, last.get) == ["B"]
    assert index.expired(0, 250.0, last.get) == []
    assert index.expired(0, 1000.0, last.get) == ["A"]
    del last["C"]  # already gone from the table
    assert index.expired(1, 1000.0, last.get) == []
    assert len(index) == 0
