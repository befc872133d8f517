"""Reviews: periods, schedule, figures by construction and against the simulator's truth,
the ranking, and the four formats showing the same numbers."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builders import APPLE, BIRCH, CEDAR, CST, DUNE, T0, complaint, inbound_path, scan
from lastmile.cli import app
from lastmile.domain.engine import Detection
from lastmile.domain.network import load_network
from lastmile.domain.rules import RuleConfig
from lastmile.review.collected import TYPES
from lastmile.review.figures import build_review, pseudonym
from lastmile.review.period import Period
from lastmile.review.ranking import rank_towns
from lastmile.review.render_md import render_md
from lastmile.review.replay import collect_replay, load_replay, replay_events
from lastmile.review.report import replay_pair, write_review
from lastmile.review.schedule import due_review
from lastmile.settings import DEFAULT_NETWORK
from lastmile.simulator import simulate, write_simulation

EAST, WEST = "990001101", "990001102"
DAY0 = T0.date()  # 2026-11-02, China date


def minutes_to(day: date, hh: int, mm: int) -> float:
    """Minutes from T0 (the builders' clock) to hh:mm China time on ``day``."""
    at = datetime(day.year, day.month, day.day, hh, mm, tzinfo=CST)
    return (at - T0).total_seconds() / 60


# ---------------------------------------------------------------- periods and schedule


def test_previous_period_has_the_same_length_and_ends_the_day_before():
    p = Period.parse("2026-03-01", "2026-03-15")
    assert p.days == 15
    assert p.previous() == Period.parse("2026-02-14", "2026-02-28")


def test_a_period_is_inclusive_china_dates():
    p = Period.parse("2026-11-02", "2026-11-02")
    just_in = datetime(2026, 11, 2, 23, 59, 59, tzinfo=CST).timestamp()
    just_out = datetime(
        2026, 11, 2, 16, 0, tzinfo=CST.utc
    ).timestamp()  # = 00:00 on the 3rd in China
    assert p.contains_ts(just_in) and not p.contains_ts(just_out)
    with pytest.raises(ValueError):
        Period.parse("2026-11-03", "2026-11-02")


@pytest.mark.parametrize(
    ("as_of", "due", "start", "end"),
    [
        ("2026-03-16", "2026-03-20", "2026-03-01", "2026-03-15"),
        ("2026-03-31", "2026-03-20", "2026-03-01", "2026-03-15"),
        ("2026-03-01", "2026-03-10", "2026-02-16", "2026-02-28"),
        ("2026-03-15", "2026-03-10", "2026-02-16", "2026-02-28"),
        ("2024-03-09", "2024-03-10", "2024-02-16", "2024-02-29"),
        ("2027-01-02", "2027-01-10", "2026-12-16", "2026-12-31"),
    ],
)
def test_semi_monthly_schedule(as_of, due, start, end):
    d = due_review(date.fromisoformat(as_of))
    assert d.due == date.fromisoformat(due)
    assert d.period == Period.parse(start, end)


def test_the_two_half_months_cover_every_day_once():
    days: Counter[date] = Counter()
    for as_of in ("2026-05-01", "2026-05-16"):
        p = due_review(date.fromisoformat(as_of)).period
        days.update(p.start + timedelta(days=i) for i in range(p.days))
    assert sorted(days) == [date(2026, 4, 16) + timedelta(days=i) for i in range(30)]
    assert set(days.values()) == {1}


# ---------------------------------------------------------------- by construction


def constructed_events():
    """East on day 0: 2 wrong_address, 1 false_signoff, 2 extra_fee; and an extra_fee just
    after midnight (day 1). West on day 0: 1 wrong_address. Cedar (remote) delivered properly."""
    late = minutes_to(DAY0 + timedelta(days=1), 0, 5)  # day 1, 00:05 China time
    ev = [*inbound_path("A1"), scan("A1", "delivered", 720, "T-E", courier="K-1", gps=False)]
    ev += [*inbound_path("A2"), scan("A2", "delivered", 720, "P-BIRCH", courier="K-1", gps=False)]
    ev += [
        *inbound_path("A3", BIRCH, "P-BIRCH"),
        scan("A3", "delivered", 720, "P-BIRCH"),
        scan("A3", "fee_charged", 725, "P-BIRCH", fee=(5, "delivery_surcharge")),
    ]
    ev += [
        *inbound_path("A4"),
        scan("A4", "delivered", 720, "P-APPLE"),
        scan("A4", "arrived", 740, "P-APPLE"),
    ]
    ev += [
        *inbound_path("A5"),
        scan("A5", "delivered", 720, "P-APPLE"),
        scan("A5", "fee_charged", late, "P-APPLE", fee=(3, "other")),
    ]
    ev += [*inbound_path("C1", CEDAR, "P-CEDAR-1"), scan("C1", "delivered", 720, "P-CEDAR-2")]
    ev += [
        scan("D1", "arrived", 0, "C-1", dest=DUNE),
        scan("D1", "departed", 60, "C-1"),
        scan("D1", "arrived", 200, "T-W"),
        scan("D1", "delivered", 300, "T-W", carrier="YTO", gps=False),
    ]
    ev += [complaint("A3", "extra_fee", 800)]  # a second extra_fee violation (complaint rule)
    return ev


def replay_of(events, network):
    d = Detection(network, RuleConfig())
    d.add_all(events)
    return replay_events(d)


def test_violations_per_town_and_type_by_construction(network):
    replay = replay_of(constructed_events(), network)
    day0 = Period(DAY0, DAY0)
    review = build_review(collect_replay(replay, day0), None, network, RuleConfig())
    towns = {t["code"]: t for t in review["towns"]}
    assert towns[EAST]["violations"] == {"wrong_address": 2, "false_signoff": 1, "extra_fee": 2}
    assert towns[WEST]["violations"] == {"wrong_address": 1, "false_signoff": 0, "extra_fee": 0}
    assert towns[EAST]["violations_by_rule"] == {
        "wrong_address/left_at_town_or_county": 1,
        "wrong_address/wrong_village_point": 1,
        "false_signoff/movement_after_signoff": 1,
        "extra_fee/fee_charged": 1,
        "extra_fee/complaint": 1,
    }
    assert towns[EAST]["deliveries"] == 6 and towns[EAST]["deliveries_remote"] == 1
    assert towns[EAST]["violations_per_10k_deliveries"] == round(5 / 6 * 1e4, 1)
    assert towns[EAST]["complaints_total"] == 1
    assert towns[EAST]["complaints_per_million_parcels"] == round(1 / 6 * 1e6, 1)
    # the fee charged 5 minutes after midnight belongs to the next day
    day1 = Period(DAY0 + timedelta(days=1), DAY0 + timedelta(days=1))
    nxt = build_review(collect_replay(replay, day1), None, network, RuleConfig())
    east1 = next(t for t in nxt["towns"] if t["code"] == EAST)
    assert east1["violations"] == {"wrong_address": 0, "false_signoff": 0, "extra_fee": 1}
    assert east1["deliveries"] == 0


def test_end_to_end_coverage_brands_and_carriers(network):
    replay = replay_of(constructed_events(), network)
    review = build_review(collect_replay(replay, Period(DAY0, DAY0)), None, network, RuleConfig())
    east = next(t for t in review["towns"] if t["code"] == EAST)
    # inbound_path: county arrival at 0, delivered at 720 min → 12 h, all on time
    assert east["end_to_end_median_h"] == 12.0 and east["on_time_rate"] == 1.0
    # Apple reached (A4), Birch reached (A2, A3 at its point), Cedar reached at its second point
    assert east["coverage"] == 1.0 and east["villages_not_reached"] == []
    assert east["brands"] == ["ZTO"] and east["brand_fusion_met"] is False
    west = next(t for t in review["towns"] if t["code"] == WEST)
    assert west["coverage"] == 0.0 and [v["code"] for v in west["villages_not_reached"]] == [DUNE]
    carriers = {c["code"]: c for c in review["carriers"]}
    assert (
        carriers["YTO"]["deliveries"] == 1 and carriers["YTO"]["violations"]["wrong_address"] == 1
    )
    assert carriers["ZTO"]["deliveries"] == 6


def test_stuck_parcels_count_at_the_end_of_the_period(network):
    # arrived at the town centre on day 0 and never left; delivered three days later
    ev = [
        scan("S1", "arrived", 0, "C-1", dest=APPLE),
        scan("S1", "departed", 30, "C-1"),
        scan("S1", "arrived", 60, "T-E"),
        scan("S1", "delivered", 60 * 24 * 3, "P-APPLE"),
    ]
    replay = replay_of(ev, network)
    two_days = Period(DAY0, DAY0 + timedelta(days=1))
    review = build_review(collect_replay(replay, two_days), None, network, RuleConfig())
    assert review["stuck_over_48h"] == {}  # less than 48 h at the end of day 1
    three = Period(DAY0, DAY0 + timedelta(days=2))
    review = build_review(collect_replay(replay, three), None, network, RuleConfig())
    assert review["stuck_over_48h"] == {"town": 1}


def test_change_against_the_previous_period(network):
    replay = replay_of(constructed_events(), network)
    day1 = Period(DAY0 + timedelta(days=1), DAY0 + timedelta(days=1))
    cur, prev = replay_pair(replay, day1)
    review = build_review(cur, prev, network, RuleConfig())
    east = next(t for t in review["towns"] if t["code"] == EAST)
    assert east["change"]["deliveries"] == {"previous": 6, "change": -6, "better": None}
    assert review["previous_period"]["available"] is True


def test_couriers_are_pseudonymous(network):
    replay = replay_of(constructed_events(), network)
    review = build_review(
        collect_replay(replay, Period(DAY0, DAY0)), None, network, RuleConfig(), salt="s"
    )
    (worst,) = review["worst_couriers"]
    assert worst["courier"] == pseudonym("K-1", "s") != pseudonym("K-1", "other")
    assert worst["violations_total"] == 2
    assert '"K-1"' not in json.dumps(review)


# ---------------------------------------------------------------- ranking


def _row(code, **kw):
    base = {
        "code": code,
        "name": code,
        "coverage": 1.0,
        "brand_count": 5,
        "on_time_rate": 0.9,
        "violations_per_10k_deliveries": 10.0,
        "complaints_per_million_parcels": 100.0,
    }
    return {**base, **kw}


def test_ranking_orders_by_score_and_renormalises_missing_components():
    county = {"violations_per_10k_deliveries": 20.0, "complaints_per_million_parcels": 100.0}
    rows = [_row("B", violations_per_10k_deliveries=40.0), _row("A"), _row("C", coverage=0.5)]
    table = rank_towns(rows, county)
    assert [r["code"] for r in table] == ["A", "C", "B"]
    a = table[0]
    # 30·1 + 15·1 + 20·0.9 + 25·(1 − 10/40) + 10·(1 − 100/200) = 86.75
    assert a["score"] == 86.8
    b = next(r for r in table if r["code"] == "B")
    assert b["components"]["violations"] == 0.0
    lone = rank_towns([_row("X", complaints_per_million_parcels=None)], county)[0]
    assert lone["components"]["complaints"] is None
    assert lone["score"] == round((30 + 15 + 20 * 0.9 + 25 * 0.75) / 90 * 100, 1)


# ---------------------------------------------------------------- formats agree


def test_all_formats_show_the_same_numbers(network, tmp_path):
    replay = replay_of(constructed_events(), network)
    review = build_review(collect_replay(replay, Period(DAY0, DAY0)), None, network, RuleConfig())
    write_review(review, ["json", "csv", "md", "html"], tmp_path)
    doc = json.loads((tmp_path / "review.json").read_text())
    assert doc == json.loads(json.dumps(review))
    for t in doc["towns"]:
        assert set(t["violations"]) == set(TYPES)
    with (tmp_path / "review-towns.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    by_code = {r["代码"]: r for r in rows}
    for t in doc["towns"]:
        r = by_code[t["code"]]
        assert int(r["不按址投递"]) == t["violations"]["wrong_address"]
        assert int(r["违规合计"]) == t["violations_total"]
        assert int(r["投递"]) == t["deliveries"]
    md = (tmp_path / "review.md").read_text()
    east = next(t for t in doc["towns"] if t["code"] == EAST)
    line = next(ln for ln in md.splitlines() if ln.startswith(f"| {EAST} |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[7:10] == [str(east["violations"][k]) for k in TYPES]
    html = (tmp_path / "review.html").read_text()
    assert html.count("<svg") >= 2 and "size: A4;" in html
    assert "East Town" in html and render_md(review).startswith("# Test County")


# ---------------------------------------------------------------- against the simulator's truth


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    net = load_network(DEFAULT_NETWORK)
    write_simulation(simulate(net, days=3, parcels_per_day=600, seed=7), out)
    return out


def truth_by_town_and_type(sim_dir: Path) -> Counter[tuple[str, str]]:
    """Truth counts per (town, type): the town from the scans' destination village."""
    raw = json.loads(Path(DEFAULT_NETWORK).read_text())
    town_of_village = {v["code"]: v["town"] for v in raw["villages"]}
    parcel_town: dict[str, str] = {}
    for line in (sim_dir / "scans.jsonl").read_text().splitlines():
        try:
            s = json.loads(line)
            village = s["destination"]["village"]
        except (ValueError, KeyError, TypeError):
            continue
        if village in town_of_village:
            parcel_town.setdefault(s["parcel_id"], town_of_village[village])
    out: Counter[tuple[str, str]] = Counter()
    for line in (sim_dir / "truth.jsonl").read_text().splitlines():
        t = json.loads(line)
        out[(parcel_town[t["parcel_id"]], t["type"])] += 1
    return out


def test_replay_counts_the_truth_per_town_and_type(sim_dir, tmp_path):
    truth = truth_by_town_and_type(sim_dir)
    assert sum(truth.values()) > 50  # the test means something
    result = CliRunner().invoke(
        app,
        [
            "review",
            "--network",
            DEFAULT_NETWORK,
            "--scans",
            str(sim_dir / "scans.jsonl"),
            "--complaints",
            str(sim_dir / "complaints.jsonl"),
            "--format",
            "json",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["review.json"]
    doc = json.loads((tmp_path / "review.json").read_text())
    got = Counter(
        {(t["code"], k): n for t in doc["towns"] for k, n in t["violations"].items() if n}
    )
    assert got == truth
    summary = json.loads((sim_dir / "truth_summary.json").read_text())
    assert doc["totals"]["violations"] == {
        k: summary["violations"]["by_type"].get(k, 0) for k in TYPES
    }


def test_periods_split_the_truth_without_loss(sim_dir):
    net = load_network(DEFAULT_NETWORK)
    replay = load_replay(
        net, RuleConfig(), str(sim_dir / "scans.jsonl"), str(sim_dir / "complaints.jsonl")
    )
    span = replay.span()
    assert span is not None and span.days > 3
    total: Counter[str] = Counter()
    day = span.start
    while day <= span.end:
        review = build_review(collect_replay(replay, Period(day, day)), None, net, RuleConfig())
        total.update(review["totals"]["violations"])
        day += timedelta(days=1)
    assert sum(total.values()) == len(replay.violations)


def test_schedule_writes_the_county_and_every_town(sim_dir, tmp_path):
    net = load_network(DEFAULT_NETWORK)
    result = CliRunner().invoke(
        app,
        [
            "review",
            "--schedule",
            "semi-monthly",
            "--as-of",
            "2024-06-16",
            "--network",
            DEFAULT_NETWORK,
            "--scans",
            str(sim_dir / "scans.jsonl"),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    base = tmp_path / "2024-06-01_2024-06-15"
    assert sorted(p.name for p in base.iterdir()) == sorted(["county", *net.towns])
    town = next(iter(net.towns))
    doc = json.loads((base / town / "review.json").read_text())
    assert [t["code"] for t in doc["towns"]] == [town]
    assert (base / town / "review.html").is_file()
    county = json.loads((base / "county" / "review.json").read_text())
    c_town = next(t for t in county["towns"] if t["code"] == town)
    assert c_town["violations"] == doc["towns"][0]["violations"]
    # a town's report places it among all towns, with the county report's rank
    assert doc["towns"][0]["rank"] == c_town["rank"]
    assert doc["ranking"] == county["ranking"] and len(doc["ranking"]["towns"]) == len(net.towns)


def test_cli_refuses_bad_input(tmp_path):
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "review",
            "--out",
            str(tmp_path),
            "--format",
            "docx",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
        ],
    )
    assert r.exit_code == 2 and "docx" in r.output
    r = runner.invoke(
        app, ["review", "--out", str(tmp_path), "--scans", str(tmp_path / "missing.jsonl")]
    )
    assert r.exit_code == 2 and "not found" in r.output
    r = runner.invoke(
        app, ["review", "--out", str(tmp_path), "--town", "nope", "--scans", DEFAULT_NETWORK]
    )
    assert r.exit_code == 2


def test_charts_fall_back_to_latin_labels_without_a_cjk_font(network, monkeypatch, caplog):
    from lastmile.review import charts

    replay = replay_of(constructed_events(), network)
    review = build_review(collect_replay(replay, Period(DAY0, DAY0)), None, network, RuleConfig())
    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such Font CJK",))
    monkeypatch.setattr(charts, "CJK_FILES", ())
    charts.cjk_font.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="lastmile.review.charts"):
            svgs = charts.all_charts(review)
    finally:
        charts.cjk_font.cache_clear()
    assert "fonts-noto-cjk" in caplog.text
    assert len(svgs) == 3 and all(svg.startswith("<svg") for _, svg in svgs)
