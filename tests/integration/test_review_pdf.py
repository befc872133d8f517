"""`lastmile review --format pdf` on a county the project has never seen: the PDF is A4, every
page carries the county, the period and its page number, its text is Chinese (or English
with --lang en), and the violation counts it prints per town equal the simulator's truth.

Needs Debian's chromium, fonts-noto-cjk and poppler-utils (deploy/local/install.sh). The
pages are kept as PNG in test-artifacts/review/ for a person to look at.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from lastmile.review.collected import TYPES

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "review"
COUNTY = ("371328", "蒙阴县")  # not the bundled sample: a network made here
TOWNS = ["蒙阴街道", "常路镇", "岱崮镇", "坦埠镇", "垛庄镇"]
VILLAGES_PER_TOWN = 6


def unseen_network() -> dict:
    """A small network.v1 of Mengyin County (蒙阴县): 5 towns x 6 villages, sample positions."""
    code, name = COUNTY
    lat0, lon0 = 35.71, 117.94
    towns, villages = [], []
    nodes = [{"id": "MY-C-1", "tier": "county", "name": f"{name}快递共同配送中心", "lat": lat0, "lon": lon0}]  # fmt: skip
    for i, town in enumerate(TOWNS):
        tcode = f"{code}{100 + i:03d}"
        tlat, tlon = lat0 + 0.06 * math.cos(i * 1.2), lon0 + 0.07 * math.sin(i * 1.2)
        centre = f"MY-T-{i}"
        towns.append({"code": tcode, "name": town, "center_node": centre})
        nodes.append({"id": centre, "tier": "town", "town": tcode, "name": f"{town}快递公共服务中心", "lat": tlat, "lon": tlon})  # fmt: skip
        for j in range(VILLAGES_PER_TOWN):
            vcode, point = f"{tcode}{201 + j:03d}", f"MY-V-{i}{j}"
            vlat, vlon = tlat + 0.01 * (j - 2.5), tlon + 0.008 * ((j * 7) % 5 - 2)
            villages.append({"code": vcode, "name": f"{town}第{j + 1}村", "town": tcode, "lat": vlat, "lon": vlon, "remote": j == 5, "points": [point]})  # fmt: skip
            nodes.append({"id": point, "tier": "village", "village": vcode, "name": f"{town}第{j + 1}村快递服务网点", "lat": vlat, "lon": vlon})  # fmt: skip
    county = {"code": code, "name": name}
    return {"version": 1, "county": county, "towns": towns, "villages": villages, "nodes": nodes}


def lastmile(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "lastmile.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> Path:
    for tool in ("pdftoppm", "pdftotext"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} missing: run deploy/local/install.sh (poppler-utils)", pytrace=False
            )
    d = tmp_path_factory.mktemp("mengyin")
    (d / "network.json").write_text(json.dumps(unseen_network(), ensure_ascii=False))
    lastmile("simulate", "--network", str(d / "network.json"), "--days", "2",
             "--parcels-per-day", "600", "--seed", "13", "--out", str(d / "sim"))  # fmt: skip
    return d


def review_pdf(county: Path, lang: str) -> Path:
    out = county / f"review-{lang}"
    lastmile("review", "--network", str(county / "network.json"),
             "--scans", str(county / "sim" / "scans.jsonl"),
             "--complaints", str(county / "sim" / "complaints.jsonl"),
             "--format", "pdf", "--format", "json", "--lang", lang, "--out", str(out))  # fmt: skip
    return out


def pages_text(pdf: Path) -> list[str]:
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")[:-1]  # one form feed after every page


def keep_pages(pdf: Path, name: str) -> list[Path]:
    """`name`.pdf and its pages `name`-page-N.png in test-artifacts/review/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}-page-*.png"):
        old.unlink()
    prefix = str(ARTIFACTS / f"{name}-page")
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(pdf), prefix], check=True)
    shutil.copy(pdf, ARTIFACTS / f"{name}.pdf")
    return sorted(ARTIFACTS.glob(f"{name}-page-*.png"))


def truth_by_town_and_type(county: Path) -> Counter[tuple[str, str]]:
    net = json.loads((county / "network.json").read_text())
    town_of_village = {v["code"]: v["town"] for v in net["villages"]}
    parcel_town: dict[str, str] = {}
    for line in (county / "sim" / "scans.jsonl").read_text().splitlines():
        try:
            s = json.loads(line)
            parcel_town.setdefault(s["parcel_id"], town_of_village[s["destination"]["village"]])
        except (ValueError, KeyError, TypeError):
            continue
    truth: Counter[tuple[str, str]] = Counter()
    for line in (county / "sim" / "truth.jsonl").read_text().splitlines():
        t = json.loads(line)
        truth[(parcel_town[t["parcel_id"]], t["type"])] += 1
    return truth


def printed_town_counts(pages: list[str]) -> Counter[tuple[str, str]]:
    """Per town and type, the counts printed in the first table's rows (code name parcels
    deliveries on-time median p90 then one column per type)."""
    row = re.compile(rf"^\s*({COUNTY[0]}\d{{3}})\s+\S+\s+\d+\s+\d+\s+\S+\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)\s")  # fmt: skip
    printed: Counter[tuple[str, str]] = Counter()
    seen: set[str] = set()
    for line in "\n".join(pages).splitlines():
        m = row.match(line)
        if m and m.group(1) not in seen:  # the towns table comes first
            seen.add(m.group(1))
            for vtype, n in zip(TYPES, m.groups()[1:], strict=True):
                if int(n):
                    printed[(m.group(1), vtype)] += int(n)
    assert len(seen) == len(TOWNS), f"town rows found: {sorted(seen)}"
    return printed


def test_chinese_pdf_of_an_unseen_county_prints_the_truth(county):
    out = review_pdf(county, "zh")
    pdf = out / "review.pdf"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert boxes and all(abs(float(w) - 595.3) < 1.5 and abs(float(h) - 841.9) < 1.5 for w, h in boxes)  # fmt: skip

    pages = pages_text(pdf)
    assert len(pages) >= 2
    doc = json.loads((out / "review.json").read_text())
    period = f"{doc['period']['from']} 至 {doc['period']['to']}"
    for n, page in enumerate(pages, start=1):
        assert f"蒙阴县 · {period}" in page, f"page {n} lacks the county and period"
        assert f"第 {n} 页，共 {len(pages)} 页" in page, f"page {n} lacks its number"
    text = "\n".join(pages)
    assert "蒙阴县 快递进村服务质量评估" in text and "沂源" not in text
    for heading in ("乡镇汇总", "年终考核排名", "排名方法", "与上期比较", "不按址投递", "北京时间"):
        assert heading in text, heading
    # the log's first period: one sentence instead of a table of n/a
    assert "本期为首期，不作环比" in text and "n/a" not in text
    # Chinese throughout: no English heading of the tables or sections
    for english in ("Towns", "Ranking method", "Notes", "Charts", "violations per"):
        assert english not in text, english
    assert sum(1 for c in text if "\u4e00" <= c <= "\u9fff") > 500

    truth = truth_by_town_and_type(county)
    assert sum(truth.values()) > 20  # the comparison means something
    assert printed_town_counts(pages) == truth

    pngs = keep_pages(pdf, "review-zh")
    assert len(pngs) == len(pages)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000 for p in pngs)  # fmt: skip


def test_english_edition_and_a_single_town(county):
    out = review_pdf(county, "en")
    pages = pages_text(out / "review.pdf")
    text = "\n".join(pages)
    assert "service-quality review" in text and "Ranking method" in text
    assert "China time (UTC+8)" in text and f"page 1 of {len(pages)}" in text
    assert "There is no earlier period" in text
    assert "乡镇汇总" not in text and "排名方法" not in text
    keep_pages(out / "review.pdf", "review-en")

    town_code = f"{COUNTY[0]}102"
    town_out = county / "review-town"
    lastmile("review", "--network", str(county / "network.json"),
             "--scans", str(county / "sim" / "scans.jsonl"),
             "--complaints", str(county / "sim" / "complaints.jsonl"),
             "--town", town_code, "--format", "pdf", "--format", "html", "--out", str(town_out))  # fmt: skip
    html = (town_out / "review.html").read_text()
    assert html.count("<svg") == 3
    assert "岱崮镇与全县中位数" in html and "全县各乡镇中位数" in html
    text = "\n".join(pages_text(town_out / "review.pdf"))
    assert "蒙阴县 岱崮镇 快递进村服务质量评估" in text
    keep_pages(town_out / "review.pdf", "review-town")
