"""``lastmile detect`` end to end on files: exactly-once output, DLQ, refusals."""

from __future__ import annotations

import json

import orjson
from typer.testing import CliRunner

from builders import T0, TINY_NETWORK
from lastmile.cli import app

runner = CliRunner()


def _scan(eid, parcel, type_, minute, node, **extra):
    from datetime import timedelta

    msg = {
        "event_id": eid,
        "parcel_id": parcel,
        "carrier": "ZTO",
        "type": type_,
        "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
        "node_id": node,
    }
    msg.update(extra)
    return orjson.dumps(msg).decode()


def write_inputs(tmp_path):
    net = tmp_path / "net.json"
    net.write_text(json.dumps(TINY_NETWORK))
    lines = [
        _scan("E1", "P1", "arrived", 0, "C-1", destination={"village": "990001101001"}),
        _scan("E2", "P1", "delivered", 600, "T-E", signoff={"method": "station"}),
        _scan("E2", "P1", "delivered", 600, "T-E", signoff={"method": "station"}),  # repeat
        "this is not json",
        _scan("E3", "P1", "delivered", 601, "T-E"),  # no signoff block
        "",
        '{"event_id": "E4", "parcel_id": "P2", "carrier": "ZTO", "type": "arrived", "occurred_at": 1762041600}',
        _scan("E5", "P2", "fee_charged", 10, "P-APPLE", fee={"amount": 5, "reason": "other"}),
        _scan("E6", "P2", "arrived", 0, "C-1", destination={"village": "990001101001"}),
    ]
    scans = tmp_path / "scans.jsonl"
    scans.write_text("\n".join(lines) + "\n")
    complaints = tmp_path / "complaints.jsonl"
    complaints.write_text(
        '{"complaint_id": "K1", "parcel_id": "P1", "category": "not_received", "filed_at": "2026-11-05T10:00:00+08:00"}\n'
        '{"complaint_id": "K2", "parcel_id": "P1", "category": "lost_cat", "filed_at": "2026-11-05T10:00:00+08:00"}\n'
    )
    return net, scans, complaints


def test_detect_writes_each_violation_once_and_each_invalid_line_to_the_dlq(tmp_path):
    net, scans, complaints = write_inputs(tmp_path)
    out, dlq, summary = tmp_path / "v.jsonl", tmp_path / "dlq.jsonl", tmp_path / "s.json"
    result = runner.invoke(
        app,
        [
            "detect",
            "--network",
            str(net),
            "--scans",
            str(scans),
            "--complaints",
            str(complaints),
            "--out",
            str(out),
            "--dlq",
            str(dlq),
            "--summary-json",
            str(summary),
        ],
    )
    assert result.exit_code == 0, result.output
    found = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted((v["parcel_id"], v["rule"]) for v in found) == [
        ("P1", "complaint"),
        ("P1", "left_at_town_or_county"),
        ("P2", "fee_charged"),
    ]
    assert len({v["violation_id"] for v in found}) == len(found)
    dead = [json.loads(x) for x in dlq.read_text().splitlines()]
    assert [(d["source"], d["line"], d["reason"]) for d in dead] == [
        ("scans", 4, "invalid_json"),
        ("scans", 5, "missing_block"),
        ("scans", 6, "invalid_json"),  # an empty line is not a message either
        ("scans", 7, "bad_time"),
        ("complaints", 2, "bad_enum"),
    ]
    assert dead[0]["raw"] == "this is not json"
    s = json.loads(summary.read_text())
    assert s["inputs"]["scans"]["invalid"] == 4 and s["inputs"]["scans"]["valid"] == 5
    assert s["violations_by_type"] == {"extra_fee": 1, "false_signoff": 1, "wrong_address": 1}


def test_detect_reads_stdin_and_writes_stdout(tmp_path):
    net, scans, _ = write_inputs(tmp_path)
    result = runner.invoke(
        app,
        ["detect", "--network", str(net), "--scans", "-", "--out", "-"],
        input=scans.read_bytes(),
    )
    assert result.exit_code == 0
    rules = sorted(json.loads(x)["rule"] for x in result.stdout.splitlines() if x.startswith("{"))
    assert rules == ["fee_charged", "left_at_town_or_county"]


def test_a_broken_network_is_refused_with_its_entry_named(tmp_path):
    doc = json.loads(json.dumps(TINY_NETWORK))
    doc["villages"][0]["points"] = ["P-DUNE"]
    net = tmp_path / "bad.json"
    net.write_text(json.dumps(doc))
    result = runner.invoke(app, ["detect", "--network", str(net), "--scans", "-", "--out", "-"])
    assert result.exit_code == 2
    assert "village '990001101001': point 'P-DUNE'" in result.output


def test_a_bad_rules_config_is_refused(tmp_path):
    net, scans, _ = write_inputs(tmp_path)
    cfg = tmp_path / "rules.yaml"
    cfg.write_text("far_from_adress_m: 800\n")
    result = runner.invoke(
        app,
        [
            "detect",
            "--network",
            str(net),
            "--scans",
            str(scans),
            "--out",
            "-",
            "--config",
            str(cfg),
        ],
    )
    assert result.exit_code == 2
    assert "unknown setting 'far_from_adress_m'" in result.output


def test_a_utf8_bom_does_not_dead_letter_the_first_line(tmp_path):
    net, scans, _ = write_inputs(tmp_path)
    first = _scan("EB", "PB", "arrived", 0, "C-1", destination={"village": "990001101001"})
    scans.write_bytes(b"\xef\xbb\xbf" + first.encode() + b"\n")
    out, dlq = tmp_path / "v.jsonl", tmp_path / "dlq.jsonl"
    result = runner.invoke(
        app,
        [
            "detect",
            "--network",
            str(net),
            "--scans",
            str(scans),
            "--out",
            str(out),
            "--dlq",
            str(dlq),
        ],
    )
    assert result.exit_code == 0, result.output
    assert dlq.read_bytes() == b""
