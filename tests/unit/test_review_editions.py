"""Reviews in two editions, China time, the first period, single-town comparisons, and PDF
errors: everything but Chromium itself (tests/integration/test_review_pdf.py prints)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from test_review import DAY0, EAST, constructed_events, replay_of
from typer.testing import CliRunner

from builders import TINY_NETWORK
from lastmile.cli import app
from lastmile.domain.network import load_network
from lastmile.domain.rules import RuleConfig
from lastmile.review import render_pdf
from lastmile.review.figures import build_review, county_medians
from lastmile.review.i18n import china_time
from lastmile.review.period import Period
from lastmile.review.render_html import css_string, render_html
from lastmile.review.render_md import render_md
from lastmile.review.report import replay_pair
from lastmile.simulator import simulate, write_simulation

CJK = re.compile(r"[\u4e00-\u9fff]")


def day_review(network, day_offset: int, **kw):
    replay = replay_of(constructed_events(), network)
    day = DAY0 + timedelta(days=day_offset)
    cur, prev = replay_pair(replay, Period(day, day))
    return build_review(cur, prev, network, RuleConfig(), **kw)


def test_each_edition_speaks_one_language(network):
    review = day_review(network, 0)
    zh, en = render_md(review, "zh"), render_md(review, "en")
    for english in ("Towns", "Ranking method", "Notes", "violations per", "previous period"):
        assert english not in zh, english
    for chinese in ("乡镇汇总", "排名方法", "年终考核排名", "不按址投递", "上期", "北京时间"):
        assert chinese in zh and chinese not in en, chinese
    # the tiny network's names are English: the English edition has no Chinese at all
    assert not CJK.search(en), CJK.findall(en)[:10]
    assert "Score out of 100" in en and "得分（满分100）" in zh


def test_times_are_china_time(network):
    review = build_review(
        *replay_pair(replay_of(constructed_events(), network), Period(DAY0, DAY0)),
        network,
        RuleConfig(),
        generated_at=datetime(2026, 3, 15, 22, 30, tzinfo=UTC),
    )
    assert review["generated_at"] == "2026-03-16T06:30:00+08:00"
    assert "生成时间：2026-03-16 06:30（北京时间）" in render_md(review, "zh")
    assert "generated: 2026-03-16 06:30 China time (UTC+8)" in render_md(review, "en")
    assert china_time("2026-03-15T22:30:00+00:00", "zh") == "2026-03-16 06:30（北京时间）"


def test_a_first_period_says_so_instead_of_a_table_of_na(network):
    first = day_review(network, 0)  # the day before holds nothing
    assert first["previous_period"]["available"] is False
    zh, en = render_md(first, "zh"), render_md(first, "en")
    change_zh = zh.split("## 与上期比较")[1].split("## ")[0]
    assert "本期为首期，不作环比" in change_zh and "|" not in change_zh
    assert "There is no earlier period" in en
    later = day_review(network, 1)  # day 0 is its previous period
    assert later["previous_period"]["available"] is True
    change = render_md(later, "zh").split("## 与上期比较")[1].split("## ")[0]
    assert "| 代码 |" in change and "本期为首期" not in change


def test_a_single_town_is_compared_with_the_median_of_the_county(network):
    county = day_review(network, 0)
    assert county["county_medians"] is None
    town = day_review(network, 0, town=EAST)
    med = town["county_medians"]
    rows = {t["code"]: t for t in county["towns"] if t["code"] in network.towns}
    rates = sorted(r["violations_per_10k_deliveries"] for r in rows.values())
    assert med["towns"] == len(network.towns) == 2
    assert med["violations_per_10k_deliveries"] == round((rates[0] + rates[1]) / 2, 4)
    html = render_html(town, "zh")
    assert "本镇通达率、准时率与全县各乡镇中位数比较" in html
    assert "各乡镇违规（按类型）" not in html  # no chart of a single bar per town
    assert html.count("<svg") == 3


def test_county_medians_leave_out_towns_without_the_figure():
    def row(**kw):
        base = {k: None for k in ("coverage", "on_time_rate", "end_to_end_median_h",
                                  "violations_per_10k_deliveries",
                                  "complaints_per_million_parcels", "brand_count")}  # fmt: skip
        return {**base, "violations_per_10k_by_type": {}, **kw} | {
            "violations_per_10k_by_type": {
                t: kw.get("vt") for t in ("wrong_address", "false_signoff", "extra_fee")
            }
        }

    med = county_medians([row(coverage=0.5, vt=10.0), row(coverage=1.0), row(coverage=0.9)])
    assert med["coverage"] == 0.9 and med["on_time_rate"] is None
    assert med["violations_per_10k_by_type"]["wrong_address"] == 10.0


def test_the_running_head_cannot_break_out_of_the_stylesheet():
    assert css_string("沂源县 · 2026-03-01") == '"沂源县 · 2026-03-01"'
    hostile = css_string('x"; } </style><script>')
    assert '"' not in hostile[1:-1] and "<" not in hostile and "}" not in hostile


def test_pdf_without_chromium_is_one_line_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.setattr(render_pdf, "CHROMIUM_NAMES", ("no-such-chromium",))
    net = tmp_path / "net.json"
    net.write_text(json.dumps(TINY_NETWORK))
    write_simulation(simulate(load_network(str(net)), days=1, parcels_per_day=40, seed=2), tmp_path)
    result = CliRunner().invoke(app, ["review", "--network", str(net),
                                      "--scans", str(tmp_path / "scans.jsonl"), "--format", "pdf",
                                      "--out", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "Chromium not found" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "review.pdf").exists()


@pytest.mark.parametrize("lang", ["fr", "ZH"])
def test_an_unknown_edition_is_refused(tmp_path, lang):
    result = CliRunner().invoke(app, ["review", "--out", str(tmp_path), "--lang", lang])
    assert result.exit_code == 2 and "--lang" in result.output
