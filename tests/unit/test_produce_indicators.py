"""Contract §7 in the pure core: outbound produce (农产品上行) and data quality.

Hand-built paths pin each reading; a simulated county with every data fault injected
checks that ``detect``'s figures name exactly what the simulator injected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import APPLE, T0, scan
from lastmile.commands.detect import run_detect
from lastmile.domain.data_quality import DataQualityTally, data_quality_figures
from lastmile.domain.network import load_network
from lastmile.domain.outbound import outbound_figures, outbound_parcel
from lastmile.domain.path import path_from_events
from lastmile.domain.rules import ConfigError, RuleConfig, rule_config_from_mapping
from lastmile.review.figures import build_review
from lastmile.review.render_md import render_md
from lastmile.review.replay import collect_replay, load_replay
from lastmile.simulator import DataFaults, simulate, write_simulation

HOUR_MIN = 60
YIYUAN = Path(__file__).resolve().parents[2] / "services/lastmile/data/yiyuan.network.json"
PRODUCE = {"category": "fresh_produce"}


def produce_path(pid: str, hours: list[tuple[str, str, float]], goods=PRODUCE, carrier="SF"):
    """An outbound parcel collected at Apple's point: (type, node, hours after T0) scans."""
    first, *rest = hours
    events = [
        scan(pid, first[0], first[2] * HOUR_MIN, first[1], dest=None, goods=goods, carrier=carrier)
    ]
    events += [scan(pid, t, h * HOUR_MIN, n, carrier=carrier) for t, n, h in rest]
    return path_from_events(pid, events)


ON_TIME = [
    ("collected", "P-APPLE", 0),
    ("departed", "P-APPLE", 2),
    ("arrived", "T-E", 3),
    ("departed", "T-E", 8),
    ("arrived", "C-1", 9),
    ("departed", "C-1", 11),
]


def test_first_mile_is_collection_to_leaving_the_county(network):
    p = outbound_parcel(produce_path("O1", ON_TIME), network)
    assert p is not None
    assert (p.town, p.village, p.carrier, p.perishable) == ("990001101", APPLE, "SF", True)
    assert p.left_ts is not None and (p.left_ts - p.collected_ts) / 3600 == 11
    assert p.longest_gap_s == 5 * 3600
    assert not p.ever_stalled(p.collected_ts + 100 * 3600, 12 * 3600)


def test_an_inbound_parcel_is_not_outbound_produce(network):
    path = path_from_events("I1", [scan("I1", "arrived", 0, "C-1", dest=APPLE)])
    assert outbound_parcel(path, network) is None


def test_stalled_now_then_moved_on_is_stalled_once(network):
    waiting = produce_path("O2", ON_TIME[:3])  # at the town centre since hour 3
    p = outbound_parcel(waiting, network)
    assert p is not None and p.left_ts is None
    start = T0.timestamp()
    assert not p.stalled_at(start + 15 * 3600, 12 * 3600)  # 12 h exactly: not more than 12 h
    assert p.stalled_at(start + 15 * 3600 + 1, 12 * 3600)
    moved = produce_path(
        "O3",
        [*ON_TIME[:3], ("departed", "T-E", 20), ("arrived", "C-1", 21), ("departed", "C-1", 22)],
    )
    q = outbound_parcel(moved, network)
    assert q is not None and not q.stalled_at(start + 40 * 3600, 12 * 3600)
    assert q.ever_stalled(start + 40 * 3600, 12 * 3600)  # 17 h at the town centre


def test_perishable_follows_the_contract(network):
    not_marked = produce_path(
        "O4", ON_TIME, goods={"category": "fresh_produce", "perishable": False}
    )
    general = produce_path("O5", ON_TIME, goods={"category": "general"})
    marked = produce_path("O6", ON_TIME, goods={"category": "food", "perishable": True})
    no_goods = produce_path("O7", ON_TIME, goods=None)
    flags = [
        outbound_parcel(p, network).perishable for p in (not_marked, general, marked, no_goods)
    ]
    assert flags == [False, False, True, False]


def test_figures_per_town_and_the_share_out_in_time(network):
    late = produce_path("O8", [*ON_TIME[:5], ("departed", "C-1", 30)])  # out after 30 h
    parcels = [
        outbound_parcel(p, network)
        for p in (produce_path("O1", ON_TIME), late, produce_path("O2", ON_TIME[:3]))
    ]
    now = T0.timestamp() + 40 * 3600
    fig = outbound_figures([p for p in parcels if p is not None], RuleConfig(), now)
    town = fig["by_town"]["990001101"]
    assert town["collected"] == 3 and town["perishable"] == 3
    assert town["first_mile_median_h"] == 20.5  # 11 h and 30 h
    assert (town["perishable_out_within_target"], town["perishable_out_decided"]) == (1, 3)
    assert [s["parcel_id"] for s in fig["stalled_now"]] == ["O2"]
    assert fig["by_carrier"]["SF"]["perishable_stalled_ever"] == 2  # O2, and O8 at the county


def test_data_quality_counts_per_carrier_and_the_clock_ignores_skewed_scans(network):
    as_of = T0.timestamp() + 10 * 86400
    tally = DataQualityTally(network, RuleConfig(), as_of)
    signed = scan("P1", "delivered", 60, "P-APPLE", carrier="JT", gps=False, event_id="E-J1")
    tally.scan(signed)
    tally.scan(signed)  # a producer retry
    tally.scan(scan("P2", "arrived", 10 * 24 * 60 + 11, "P-BIRCH", carrier="STO"))  # 11 min ahead
    tally.scan(scan("P3", "arrived", 9 * 24 * 60, "P-DUNE", carrier="ZTO"))
    tally.invalid("JT", "bad_enum")
    fig = data_quality_figures(tally.carriers, tally.point_last, tally.clock, network, RuleConfig())
    jt, sto = fig["by_carrier"]["JT"], fig["by_carrier"]["STO"]
    assert (jt["delivered"], jt["delivered_without_location"], jt["repeated"]) == (1, 1, 1)
    assert jt["invalid_by_reason"] == {"bad_enum": 1}
    assert jt["flags"] == ["signoffs_without_location"]
    assert sto["clock_skewed"] == 1 and sto["flags"] == ["clock_skewed"]
    assert tally.clock.newest == T0.timestamp() + 9 * 86400  # not the skewed scan's time
    # the data covers 9 days: the points without a scan in the last 7 are silent (Apple's
    # sign-off is 9 days old; Birch's only scan is the skewed one); Dune scanned today
    silent = [p["point"] for p in fig["silent_points"]]
    assert silent == ["P-APPLE", "P-BIRCH", "P-CEDAR-1", "P-CEDAR-2"]


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({"perishable_stall_hours": 0}, "perishable_stall_hours"),
        ({"clock_skewed_share": 1.5}, "clock_skewed_share"),
        ({"silent_point_days": "7"}, "silent_point_days"),
    ],
)
def test_bad_produce_thresholds_are_refused_by_name(doc, says):
    with pytest.raises(ConfigError, match=says):
        rule_config_from_mapping(doc)


@pytest.fixture(scope="module")
def faulty_county(tmp_path_factory):
    """Nine days of Yiyuan with every §7 fault injected, and its truth."""
    out = tmp_path_factory.mktemp("faults")
    net = load_network(YIYUAN)
    sim = simulate(net, days=9, parcels_per_day=600, seed=5, faults=DataFaults(4, 3, "JT", "STO"))
    truth = write_simulation(sim, out)["data_faults"]["truth"]
    return net, out, truth


def test_detect_names_exactly_the_injected_faults(faulty_county):
    net, tmp_path, truth = faulty_county
    found = run_detect(
        net, RuleConfig(), str(tmp_path / "scans.jsonl"), None, str(tmp_path / "v.jsonl"), None
    )["indicators"]
    out, dq = found["outbound"], found["data_quality"]
    assert [s["parcel_id"] for s in out["stalled_now"]] == truth["perishable_stalled_now"]
    assert [s["parcel_id"] for s in out["stalled_ever"]] == truth["perishable_stalled_ever"]
    assert len(truth["perishable_stalled_ever"]) == 4
    flagged = {c: q["flags"] for c, q in dq["by_carrier"].items() if q["flags"]}
    assert flagged == {"JT": ["signoffs_without_location"], "STO": ["clock_skewed"]}
    assert dq["by_carrier"]["STO"]["clock_skewed"] == truth["clock_skewed_scans"]
    assert [p["point"] for p in dq["silent_points"]] == truth["silent_points"]


def test_the_review_names_the_injected_faults(faulty_county):
    net, tmp_path, truth = faulty_county
    replay = load_replay(net, RuleConfig(), str(tmp_path / "scans.jsonl"), None)
    span = replay.span()
    assert span is not None
    review = build_review(collect_replay(replay, span), None, net, RuleConfig())
    stalled = review["outbound"]["stalled"]
    assert [s["parcel_id"] for s in stalled] == truth["perishable_stalled_ever"]
    now = [s["parcel_id"] for s in stalled if s["stalled_now"]]
    assert now == truth["perishable_stalled_now"]
    by_town = {t["code"]: t["perishable_stalled_ever"] for t in review["outbound"]["towns"]}
    assert sum(by_town.values()) == len(truth["perishable_stalled_ever"])
    flags = {c["code"]: c["flags"] for c in review["data_quality"]["carriers"] if c["flags"]}
    assert flags == {"JT": ["signoffs_without_location"], "STO": ["clock_skewed"]}
    silent = [p["point"] for p in review["data_quality"]["silent_points"]]
    assert silent == truth["silent_points"]
    # every format shows the sections
    md = render_md(review)  # the Chinese edition (the default) and the English one
    assert "农产品上行" in md and truth["perishable_stalled_now"][0] in md
    assert "Outbound farm produce" in render_md(review, "en")


def test_the_alerts_flag_carriers_with_the_rules_file_shares():
    """The Prometheus alerts cannot read RuleConfig: their numbers must be its defaults."""
    import yaml

    path = YIYUAN.parents[3] / "deploy/prometheus/lastmile-alerts.yml"
    rules = {
        r["alert"]: r["expr"]
        for g in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    config = RuleConfig()
    gps = rules["LastmileSignoffsWithoutLocation"]
    assert f"ratio_increase1d > {config.signoffs_without_location_share}" in gps
    clocks = rules["LastmileCarrierClockSkewed"]
    assert f"ratio_increase1h > {config.clock_skewed_share}" in clocks
