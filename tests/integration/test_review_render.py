"""The HTML review opens in headless Chromium (Debian's package) with its tables and charts.

Needs /usr/bin/chromium and fonts-noto-cjk (deploy/local/install.sh installs both). The
screenshot is kept in test-artifacts/review/ for a person to look at the Chinese labels;
the printed PDF is tested in test_review_pdf.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lastmile.domain.network import load_network
from lastmile.domain.rules import RuleConfig
from lastmile.review.charts import cjk_font
from lastmile.review.period import Period
from lastmile.review.render_pdf import chromium_command
from lastmile.review.replay import load_replay
from lastmile.review.report import replay_pair, review_of, write_review
from lastmile.settings import DEFAULT_NETWORK
from lastmile.simulator import simulate, write_simulation

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "review"


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = chromium_command(CHROMIUM, tmp / "chrome-profile", *args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: run deploy/local/install.sh (Debian's chromium)", pytrace=False
        )
    sim_dir = tmp_path_factory.mktemp("sim")
    net = load_network(DEFAULT_NETWORK)
    write_simulation(simulate(net, days=4, parcels_per_day=500, seed=3), sim_dir)
    replay = load_replay(
        net, RuleConfig(), str(sim_dir / "scans.jsonl"), str(sim_dir / "complaints.jsonl")
    )
    span = replay.span()
    assert span is not None
    period = Period(span.start, span.end)
    doc = review_of(replay_pair(replay, period), net, RuleConfig())
    out = tmp_path_factory.mktemp("review")
    write_review(doc, ["html"], out)
    return out / "review.html"


def test_a_cjk_font_is_installed():
    assert cjk_font() is not None, "install Debian's fonts-noto-cjk (deploy/local/install.sh)"


def test_html_renders_in_headless_chromium_with_tables_and_charts(report, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = tmp_path / "review.png"
    r = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1240,1754", report.as_uri())
    assert shot.is_file() and shot.stat().st_size > 20_000, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.copy(shot, ARTIFACTS / "review.png")
    shutil.copy(report, ARTIFACTS / "review.html")

    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert "<table" in dom and 'class="towns"' in dom and 'class="ranking"' in dom
    assert len(re.findall(r"<figure class=\"chart\">\s*<svg", dom)) == 3
    assert "沂源县" in dom and "不按址投递" in dom and "通达率" in dom
    town_rows = re.search(r'<table class="towns">.*?</table>', dom, re.S)
    assert town_rows is not None and town_rows.group(0).count("<tr") >= 13  # header + 12 towns
