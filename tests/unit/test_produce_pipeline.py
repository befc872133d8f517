"""The streaming side of contract §7, without services: step_produce on batches, the
watermark cap for clocks running ahead, and detect's dead letter for an unknown category."""

from __future__ import annotations

import orjson

from builders import T0, TINY_NETWORK, scan
from lastmile.commands.detect import run_detect
from lastmile.domain.network import parse_network
from lastmile.domain.path import ParcelPath
from lastmile.domain.rules import RuleConfig
from lastmile.pipeline.effects import Effects
from lastmile.pipeline.parcels import Located, step_parcels
from lastmile.pipeline.produce import step_produce
from lastmile.pipeline.runstate import RunState

PRODUCE = {"category": "fresh_produce"}
NOW = T0.timestamp() + 2 * 86400  # processing time of the batches


def run_batches(batches, network, ceiling=float("inf")):
    """Feed batches as the worker does; returns each batch's ProduceWrites and the state."""
    table: dict[str, ParcelPath] = {}
    state = RunState(ceiling=ceiling)
    out = []
    for events in batches:
        located = [Located(e, "scans.v1", 0) for e in events]
        fx = Effects()
        step_parcels(located, lambda pid, _: table.get(pid), network, RuleConfig(), state, fx)
        out.append(step_produce(located, fx, network, RuleConfig(), NOW, state.watermark))
        for paths in fx.states.values():
            table.update(paths)
    return out, state


def test_a_batch_records_outbound_facts_counts_and_the_data_clock(network):
    collected = scan(
        "O1", "collected", 0, "P-APPLE", dest=None, goods=PRODUCE, carrier="SF", event_id="O1-1"
    )
    batches = [
        [collected, scan("O1", "departed", 60, "P-APPLE", carrier="SF")],
        [
            collected._replace(),  # a producer retry in a later batch (decoded anew)
            scan("O1", "arrived", 120, "T-E", carrier="SF"),
            scan("X1", "delivered", 200, "P-DUNE", carrier="JT", gps=False),
            scan("X2", "arrived", 2 * 24 * 60 + 11, "T-W", carrier="STO"),  # 11 min ahead
        ],
    ]
    (first, written), _ = run_batches(batches, network, ceiling=NOW + 600)
    second = written.totals()
    assert first.outbound["O1"].perishable and first.outbound["O1"].town == "990001101"
    assert written.outbound["O1"].last_move_ts == T0.timestamp() + 120 * 60
    assert second[("SF", "repeated")] == 1 and second[("SF", "scans")] == 1
    assert second[("JT", "delivered_without_location")] == 1
    assert second[("STO", "clock_skewed")] == 1
    assert written.newest_ts == T0.timestamp() + 200 * 60  # not the skewed scan
    # a skewed scan is filed under the hour of the newest data, the others under their own
    assert (int(T0.timestamp() + 200 * 60) // 3600, "STO", "clock_skewed") in written.counts
    # a repeat's time is one the point already had: the newest per point is unchanged by it
    assert written.point_last == {"P-APPLE": T0.timestamp(), "P-DUNE": T0.timestamp() + 200 * 60}


def test_a_clock_running_ahead_does_not_move_the_watermark(network):
    ahead = scan("Y1", "arrived", 3650 * 24 * 60, "C-1", carrier="STO")
    normal = scan("Y2", "arrived", 30, "C-1")
    _, state = run_batches([[normal, ahead]], network, ceiling=NOW + 600)
    assert state.watermark == normal.ts
    _, uncapped = run_batches([[normal, ahead]], network)
    assert uncapped.watermark == ahead.ts  # what the cap prevents


def test_detect_dead_letters_an_unknown_category_with_the_reason(tmp_path):
    good = {
        "event_id": "G1",
        "parcel_id": "P1",
        "carrier": "SF",
        "type": "collected",
        "occurred_at": "2026-11-02T08:00:00+08:00",
        "node_id": "P-APPLE",
        "destination": {"village": None},
        "goods": {"category": "fresh_produce"},
    }
    bad = good | {"event_id": "G2", "goods": {"category": "livestock"}}
    scans = tmp_path / "scans.jsonl"
    scans.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps(bad) + b"\n")
    network = parse_network(TINY_NETWORK)
    summary = run_detect(
        network,
        RuleConfig(),
        str(scans),
        None,
        str(tmp_path / "v.jsonl"),
        str(tmp_path / "dlq.jsonl"),
    )
    (letter,) = [orjson.loads(x) for x in (tmp_path / "dlq.jsonl").read_bytes().splitlines()]
    assert letter["reason"] == "bad_enum" and "goods.category" in letter["detail"]
    sf = summary["indicators"]["data_quality"]["by_carrier"]["SF"]
    assert sf["invalid_by_reason"] == {"bad_enum": 1} and sf["scans"] == 1
    assert summary["indicators"]["outbound"]["totals"]["perishable"] == 1


def test_stored_paths_keep_the_goods_and_read_rows_written_before_them():
    from lastmile.io.codec import decode_path, encode_path

    collected = scan("O9", "collected", 0, "P-APPLE", dest=None, goods=PRODUCE)
    path = ParcelPath("O9", (collected,))
    (back,) = decode_path(encode_path(path)).scans
    assert (back.goods_category, back.perishable) == ("fresh_produce", True)
    old = orjson.loads(encode_path(path))
    old[2][0] = old[2][0][:18]  # a row stored before ScanEvent had the goods fields
    (earlier,) = decode_path(orjson.dumps(old)).scans
    assert (earlier.goods_category, earlier.perishable) == (None, None)
