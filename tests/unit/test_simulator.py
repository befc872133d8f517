"""The simulator: deterministic, exact about invalid lines, and its truth is the rulebook's."""

from __future__ import annotations

import importlib.util
import json
import math
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from lastmile.contract.decode import InvalidMessage, decode_complaint, decode_scan
from lastmile.domain.engine import detect_events
from lastmile.domain.findings import violation_id
from lastmile.domain.geo import haversine_m
from lastmile.domain.network import load_network
from lastmile.domain.rules import RuleConfig
from lastmile.simulator import InjectionRates, Simulation, simulate, write_simulation
from lastmile.simulator.command import run_simulate_command
from lastmile.simulator.rates import ALL_RULES

ROOT = Path(__file__).resolve().parents[2]
YIYUAN = ROOT / "services/lastmile/data/yiyuan.network.json"


def _offset(lat: float, lon: float, dist_m: float, bearing_deg: float) -> tuple[float, float]:
    b = math.radians(bearing_deg)
    return (
        round(lat + dist_m * math.cos(b) / 111_195.0, 6),
        round(lon + dist_m * math.sin(b) / (111_195.0 * math.cos(math.radians(lat))), 6),
    )


def tiny_network_doc() -> dict:
    """A made-up county: 3 towns, 5 villages each, villages 2-9 km from their town centre."""
    nodes = [{"id": "TC-1", "tier": "county", "name": "county hub", "lat": 30.0, "lon": 110.0}]
    towns, villages = [], []
    for ti, bearing in enumerate((0, 120, 240)):
        code = f"999001{ti + 1:03d}"
        clat, clon = _offset(30.0, 110.0, 15_000, bearing)
        cid = f"T-{ti + 1}"
        towns.append({"code": code, "name": f"Town {ti + 1}", "center_node": cid})
        nodes.append({"id": cid, "tier": "town", "town": code, "lat": clat, "lon": clon})
        for vi, dist in enumerate((2_000, 4_000, 6_000, 8_000, 9_000)):
            vcode = f"{code}{vi + 1:03d}"
            vlat, vlon = _offset(clat, clon, dist, bearing + 72 * vi)
            points = [f"P-{vcode}"]
            nodes.append(
                {"id": points[0], "tier": "village", "village": vcode, "lat": vlat, "lon": vlon}
            )
            if vi == 1:
                plat, plon = _offset(vlat, vlon, 300, 45)
                points.append(f"P-{vcode}-B")
                nodes.append(
                    {"id": points[1], "tier": "village", "village": vcode, "lat": plat, "lon": plon}
                )
            villages.append(
                {
                    "code": vcode,
                    "name": f"Village {vcode}",
                    "town": code,
                    "lat": vlat,
                    "lon": vlon,
                    "remote": vi == 4,
                    "points": points,
                }
            )
    return {
        "version": 1,
        "county": {"code": "999001", "name": "Tiny County"},
        "towns": towns,
        "villages": villages,
        "nodes": nodes,
    }


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("net") / "tiny.network.json"
    path.write_text(json.dumps(tiny_network_doc()))
    return path


@pytest.fixture(scope="module")
def tiny_sim(tiny_path: Path) -> Simulation:
    return simulate(load_network(tiny_path), days=2, parcels_per_day=600, seed=7)


def _decode_all(sim: Simulation) -> tuple[list, list[int], list[int]]:
    events, bad_scans, bad_complaints = [], [], []
    for i, line in enumerate(sim.scan_lines, start=1):
        try:
            events.append(decode_scan(line))
        except InvalidMessage:
            bad_scans.append(i)
    for i, line in enumerate(sim.complaint_lines, start=1):
        try:
            events.append(decode_complaint(line))
        except InvalidMessage:
            bad_complaints.append(i)
    return events, bad_scans, bad_complaints


def _key(v: dict) -> tuple[str, str, str, str, str]:
    return (v["violation_id"], v["parcel_id"], v["type"], v["rule"], v["carrier"])


# --- determinism ---------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tiny_path: Path, tmp_path: Path) -> None:
    net = load_network(tiny_path)
    write_simulation(simulate(net, days=1, parcels_per_day=400, seed=3), tmp_path / "a")
    write_simulation(simulate(net, days=1, parcels_per_day=400, seed=3), tmp_path / "b")
    write_simulation(simulate(net, days=1, parcels_per_day=400, seed=4), tmp_path / "c")
    names = ("scans.jsonl", "complaints.jsonl", "truth.jsonl", "truth_summary.json")
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a/scans.jsonl").read_bytes() != (tmp_path / "c/scans.jsonl").read_bytes()


# --- the truth --------------------------------------------------------------------------


def test_every_rule_is_in_the_truth(tiny_sim: Simulation) -> None:
    rules = Counter(f"{t['type']}/{t['rule']}" for t in tiny_sim.truth)
    assert set(rules) == set(ALL_RULES)
    assert tiny_sim.summary["violations"]["by_rule"] == {r: rules[r] for r in ALL_RULES}
    assert sum(tiny_sim.summary["violations"]["by_carrier"].values()) == len(tiny_sim.truth)
    assert sum(tiny_sim.summary["violations"]["by_town"].values()) == len(tiny_sim.truth)


def test_truth_records_are_well_formed_and_unique(tiny_sim: Simulation) -> None:
    seen = set()
    for t in tiny_sim.truth:
        assert set(t) == {"violation_id", "parcel_id", "type", "rule", "carrier"}
        assert t["violation_id"] == violation_id(t["parcel_id"], t["type"], t["rule"])
        assert t["violation_id"] not in seen
        seen.add(t["violation_id"])


def test_truth_equals_the_rulebook_on_the_generated_events(
    tiny_sim: Simulation, tiny_path: Path
) -> None:
    """Cross-check with the project's detection core: same violations, same carriers."""
    events, _, _ = _decode_all(tiny_sim)
    found = detect_events(events, load_network(tiny_path), RuleConfig(), datetime.now(UTC))
    assert {_key(v) for v in found} == {_key(t) for t in tiny_sim.truth}


def test_truth_equals_the_rulebook_on_yiyuan() -> None:
    net = load_network(YIYUAN)
    sim = simulate(net, days=1, parcels_per_day=3000, seed=11, start=date(2025, 3, 1))
    events, _, _ = _decode_all(sim)
    found = detect_events(events, net, RuleConfig(), datetime.now(UTC))
    assert {_key(v) for v in found} == {_key(t) for t in sim.truth}
    assert set(sim.summary["violations"]["by_town"]) <= set(net.towns)


def test_a_zero_rate_injects_nothing(tiny_path: Path) -> None:
    rates = InjectionRates.from_mapping({"fee_charged": 0, "false_signoff/bulk_signoff": 0})
    sim = simulate(load_network(tiny_path), days=1, parcels_per_day=400, seed=5, rates=rates)
    by_rule = sim.summary["violations"]["by_rule"]
    assert by_rule["extra_fee/fee_charged"] == 0
    assert by_rule["false_signoff/bulk_signoff"] == 0
    assert by_rule["false_signoff/movement_after_signoff"] > 0


def test_hard_negatives_are_generated(tiny_sim: Simulation) -> None:
    hn = tiny_sim.summary["hard_negatives"]
    for name in (
        "keeper_bursts",
        "fast_possible_travel",
        "fast_short_hop",
        "cod_payment",
        "delivered_then_returned_moves_again",
        "outbound_fee",
        "station_signoff",
    ):
        assert hn.get(name, 0) > 0, name
    assert any(k.endswith("_undelivered") for k in hn)


# --- the lines -----------------------------------------------------------------------------


def test_invalid_lines_are_counted_exactly(tiny_sim: Simulation) -> None:
    _, bad_scans, bad_complaints = _decode_all(tiny_sim)
    inv = tiny_sim.summary["invalid"]
    assert bad_scans == inv["scans"]["lines"]
    assert len(bad_scans) == inv["scans"]["count"] > 0
    assert bad_complaints == inv["complaints"]["lines"]
    assert len(bad_complaints) == inv["complaints"]["count"] > 0
    kinds = tiny_sim.summary["scans"]["invalid_by_kind"]
    assert len(kinds) >= 8 and sum(kinds.values()) == len(bad_scans)


def test_stream_is_out_of_order_with_duplicates(tiny_sim: Simulation) -> None:
    events, _, _ = _decode_all(tiny_sim)
    scans = [e for e in events if hasattr(e, "event_id")]
    ts = [e.ts for e in scans]
    assert ts != sorted(ts)
    counts = Counter(e.event_id for e in scans)
    dups = sum(n - 1 for n in counts.values())
    assert dups == tiny_sim.summary["scans"]["duplicate_lines"] > 0
    assert len(counts) == tiny_sim.summary["scans"]["distinct"]
    # a duplicate is the same line, byte for byte
    lines = Counter(tiny_sim.scan_lines)
    assert sum(n - 1 for n in lines.values()) >= dups


def test_scans_are_plausible(tiny_sim: Simulation, tiny_path: Path) -> None:
    net = load_network(tiny_path)
    events, _, _ = _decode_all(tiny_sim)
    scans = [e for e in events if hasattr(e, "event_id")]
    types = Counter(e.type for e in scans)
    assert {
        "collected",
        "arrived",
        "departed",
        "handover",
        "out_for_delivery",
        "delivered",
        "fee_charged",
        "returned",
    } <= set(types)
    methods = Counter(e.signoff for e in scans if e.type == "delivered")
    assert set(methods) == {"recipient", "proxy", "locker", "station"}
    assert 0.02 < sum(1 for e in scans if e.lat is None) / len(scans) < 0.3
    for e in scans:
        if e.node_id is not None:
            assert e.node_id in net.nodes
            node = net.nodes[e.node_id]
            if e.lat is not None:
                assert haversine_m(e.lat, e.lon, node.lat, node.lon) <= 30
    carriers = Counter(e.carrier for e in scans)
    assert {"ZTO", "YTO", "YUNDA", "JT", "STO", "EMS", "SF", "JD"} <= set(carriers)


# --- the command, the rates, the sample network -------------------------------------------


def test_run_simulate_command_writes_the_files(tiny_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    summary = run_simulate_command(
        str(tiny_path), 1, 300, 9, str(out), "2025-01-06", {"fee_charged": 0.02}
    )
    assert summary["parameters"]["start"] == "2025-01-06"
    assert summary["parameters"]["rates"]["fee_charged"] == 0.02
    saved = json.loads((out / "truth_summary.json").read_text())
    assert saved == summary
    truth = [json.loads(x) for x in (out / "truth.jsonl").read_text().splitlines()]
    assert len(truth) == summary["violations"]["total"]
    n_lines = len((out / "scans.jsonl").read_bytes().splitlines())
    assert n_lines == summary["scans"]["lines"]
    first = json.loads((out / "scans.jsonl").read_text().splitlines()[0])
    assert first["occurred_at"].startswith("2025-01-0")


def test_rates_from_mapping() -> None:
    r = InjectionRates.from_mapping(
        {"bulk_signoff": 0.01, "extra_fee/complaint": 0.02, "wrong-village-point": 0.03}
    )
    assert (r.bulk_signoff, r.extra_fee_complaint, r.wrong_village_point) == (0.01, 0.02, 0.03)
    with pytest.raises(ValueError, match="ambiguous"):
        InjectionRates.from_mapping({"complaint": 0.01})
    with pytest.raises(ValueError, match="unknown rate"):
        InjectionRates.from_mapping({"teleport": 0.01})
    with pytest.raises(ValueError):
        InjectionRates.from_mapping({"fee_charged": 2})


def test_yiyuan_sample_network() -> None:
    net = load_network(YIYUAN)
    assert (net.county_code, net.county_name) == ("370323", "沂源县")
    assert len(net.towns) == 12
    assert net.nodes["YY-C-1"].tier == "county"
    for code in net.towns:
        assert len(code) == 9 and code.startswith("370323")
        assert 15 <= len(net.villages_of(code)) <= 40
    remote = sum(v.remote for v in net.villages.values()) / len(net.villages)
    assert 0.12 <= remote <= 0.18
    seat = (36.18, 118.17)
    nls = net.nodes[net.towns["370323100"].center_node]
    assert net.towns["370323100"].name == "南鲁山镇"
    assert 9_500 <= haversine_m(*seat, nls.lat, nls.lon) <= 11_500
    pts = [n for n in net.nodes.values() if n.tier == "village"]
    for i, a in enumerate(pts):
        assert len(a.village) == 12
        for b in pts[i + 1 :]:
            if a.village != b.village:
                assert haversine_m(a.lat, a.lon, b.lat, b.lon) >= 1_200


def test_yiyuan_file_is_what_the_script_generates() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_yiyuan", ROOT / "tools/make_yiyuan_network.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert json.loads(YIYUAN.read_text(encoding="utf-8")) == mod.build()
