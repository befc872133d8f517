"""The review's tables as (title, headers, rows of raw values), shared by HTML, Markdown, CSV.

Every format lays out these same tables from the same review dict, so they show the same
numbers as the JSON. ``None`` is a figure the source cannot give or the period lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lastmile.domain.rules import RULES
from lastmile.review.collected import TYPE_LABELS, TYPES
from lastmile.review.period import china_day

RULE_LABELS = {
    "left_at_town_or_county": "放在镇/县中心",
    "wrong_village_point": "投错村网点",
    "far_from_address": "远离地址",
    "complaint": "投诉",
    "movement_after_signoff": "签收后仍有运输扫描",
    "impossible_travel": "不可能的位移",
    "bulk_signoff": "批量签收",
    "fee_charged": "收取派送费",
}
CHANGE_LABELS = {
    "deliveries": "投递 deliveries",
    "on_time_rate": "72h准时率 on-time",
    "violations_per_10k_deliveries": "每万件违规 viol./10k",
    "complaints_per_million_parcels": "每百万件投诉 compl./M",
    "coverage": "通达率 coverage",
}


@dataclass
class Table:
    key: str  # file-name part for CSV
    title: str
    headers: list[str]
    rows: list[list[Any]]
    kinds: list[str]  # per column: text, int, rate (0..1 shown as %), num


def _type_headers() -> list[str]:
    return [f"{TYPE_LABELS[t]} {t}" for t in TYPES]


def towns_table(review: dict[str, Any]) -> Table:
    headers = [
        "代码 code",
        "乡镇 town",
        "包裹 parcels",
        "投递 deliveries",
        "72h准时率 on-time",
        "全程中位数 median h",
        "全程P90 p90 h",
        *_type_headers(),
        "违规合计 total",
        "每万件违规 per 10k deliveries",
        "投诉 complaints",
        "每百万件投诉 per M parcels",
        "通达率 coverage",
        "品牌数 brands",
        "滞留>48h stuck",
        "得分 score",
        "排名 rank",
    ]
    kinds = [
        "text",
        "text",
        "int",
        "int",
        "rate",
        "num",
        "num",
        *["int"] * len(TYPES),
        "int",
        "num",
        "int",
        "num",
        "rate",
        "int",
        "int",
        "num",
        "int",
    ]
    rows = []
    for t in review["towns"]:
        stuck = t.get("stuck_over_48h")
        rows.append(
            [
                t["code"],
                t["name"],
                t["parcels"],
                t["deliveries"],
                t["on_time_rate"],
                t["end_to_end_median_h"],
                t["end_to_end_p90_h"],
                *[t["violations"][k] for k in TYPES],
                t["violations_total"],
                t["violations_per_10k_deliveries"],
                t["complaints_total"],
                t["complaints_per_million_parcels"],
                t.get("coverage"),
                t.get("brand_count"),
                None if stuck is None else sum(stuck.values()),
                t.get("score"),
                t.get("rank"),
            ]
        )
    tot = review["totals"]
    stuck = review.get("stuck_over_48h")
    rows.append(
        [
            "",
            "合计 total",
            tot["parcels"],
            tot["deliveries"],
            tot["on_time_rate"],
            tot["end_to_end_median_h"],
            tot["end_to_end_p90_h"],
            *[tot["violations"][k] for k in TYPES],
            tot["violations_total"],
            tot["violations_per_10k_deliveries"],
            tot["complaints_total"],
            tot["complaints_per_million_parcels"],
            None,
            None,
            None if stuck is None else sum(stuck.values()),
            None,
            None,
        ]
    )
    return Table("towns", "乡镇汇总 Towns", headers, rows, kinds)


def carriers_table(review: dict[str, Any]) -> Table:
    headers = [
        "品牌 carrier",
        "包裹 parcels",
        "投递 deliveries",
        "72h准时率 on-time",
        "全程中位数 median h",
        "全程P90 p90 h",
        *_type_headers(),
        "违规合计 total",
        "每万件违规 per 10k deliveries",
        "投诉 complaints",
        "每百万件投诉 per M parcels",
    ]
    kinds = [
        "text",
        "int",
        "int",
        "rate",
        "num",
        "num",
        *["int"] * len(TYPES),
        "int",
        "num",
        "int",
        "num",
    ]
    rows = [
        [
            c["code"],
            c["parcels"],
            c["deliveries"],
            c["on_time_rate"],
            c["end_to_end_median_h"],
            c["end_to_end_p90_h"],
            *[c["violations"][k] for k in TYPES],
            c["violations_total"],
            c["violations_per_10k_deliveries"],
            c["complaints_total"],
            c["complaints_per_million_parcels"],
        ]
        for c in review["carriers"]
    ]
    return Table("carriers", "快递品牌 Carriers", headers, rows, kinds)


def rules_table(review: dict[str, Any]) -> Table:
    rules = list(RULES)
    headers = ["代码 code", "乡镇 town"] + [
        f"{TYPE_LABELS[r.split('/')[0]]}·{RULE_LABELS.get(r.split('/')[1], '')} {r}" for r in rules
    ]
    rows = [
        [t["code"], t["name"], *[t["violations_by_rule"].get(r, 0) for r in rules]]
        for t in review["towns"]
    ]
    rows.append(
        ["", "合计 total", *[review["totals"]["violations_by_rule"].get(r, 0) for r in rules]]
    )
    return Table(
        "rules",
        "违规（按规则）Violations by rule",
        headers,
        rows,
        ["text", "text", *["int"] * len(rules)],
    )


def coverage_table(review: dict[str, Any]) -> Table:
    headers = [
        "代码 code",
        "乡镇 town",
        "行政村 villages",
        "已通达 reached",
        "无法判定 undetermined",
        "通达率 coverage",
        "未通达村 villages not reached",
        "品牌数 brands",
        "品牌 carriers",
        "达到5个品牌 ≥5 brands",
    ]
    kinds = ["text", "text", "int", "int", "int", "rate", "text", "int", "text", "text"]
    rows = [
        [
            t["code"],
            t["name"],
            t["villages"],
            t["villages_reached"],
            t["villages_undetermined"],
            t["coverage"],
            "、".join(f"{v['name']}（{v['code']}）" for v in t["villages_not_reached"]) or "—",
            t["brand_count"],
            " ".join(t["brands"]) or "—",
            "是 yes" if t["brand_fusion_met"] else "否 no",
        ]
        for t in review["towns"]
        if "villages" in t
    ]
    return Table("coverage", "通达率与品牌融合 Coverage and brand fusion", headers, rows, kinds)


def dwell_table(review: dict[str, Any]) -> Table:
    headers = [
        "层级 tier",
        "经停次数 hops",
        "中位数 median h",
        "P90 p90 h",
        "滞留>48h stuck parcels",
    ]
    dwell = review.get("dwell_hours")
    stuck = review.get("stuck_over_48h") or {}
    rows = []
    if dwell is not None:
        for tier in sorted(set(dwell) | set(stuck)):
            d = dwell.get(tier, {})
            rows.append(
                [tier, d.get("hops", 0), d.get("median_h"), d.get("p90_h"), stuck.get(tier, 0)]
            )
    return Table(
        "dwell",
        "各层级停留时间 Dwell at each tier",
        headers,
        rows,
        ["text", "int", "num", "num", "int"],
    )


def change_table(review: dict[str, Any]) -> Table:
    headers = ["代码 code", "名称 name"]
    kinds = ["text", "text"]
    for key, label in CHANGE_LABELS.items():
        kind = "rate" if key in ("on_time_rate", "coverage") else "num"
        headers += [f"{label} 上期 previous", f"{label} 变化 change"]
        kinds += [kind, "delta-" + kind]
    rows = []
    scopes = [
        *review["towns"],
        *review["carriers"],
        {"code": "", "name": "合计 total", **review["totals"]},
    ]
    for s in scopes:
        row: list[Any] = [s["code"], s.get("name", "")]
        for key in CHANGE_LABELS:
            ch = s["change"].get(key) or {}
            row += [ch.get("previous"), ch.get("change")]
        rows.append(row)
    return Table("change", "与上期比较 Change against the previous period", headers, rows, kinds)


def worst_villages_table(review: dict[str, Any]) -> Table:
    headers = ["行政村 village", "代码 code", "乡镇 town", *_type_headers(), "合计 total"]
    rows = [
        [
            v["name"],
            v["code"],
            v["town"],
            *[v["violations"][k] for k in TYPES],
            v["violations_total"],
        ]
        for v in review["worst_villages"]
    ]
    return Table(
        "worst-villages",
        "违规最多的村 Worst villages",
        headers,
        rows,
        ["text", "text", "text", *["int"] * len(TYPES), "int"],
    )


def worst_couriers_table(review: dict[str, Any]) -> Table:
    headers = ["快递员（化名）courier (pseudonym)", "品牌 carrier", *_type_headers(), "合计 total"]
    rows = [
        [c["courier"], c["carrier"], *[c["violations"][k] for k in TYPES], c["violations_total"]]
        for c in review["worst_couriers"]
    ]
    return Table(
        "worst-couriers",
        "违规最多的快递员 Worst couriers",
        headers,
        rows,
        ["text", "text", *["int"] * len(TYPES), "int"],
    )


def ranking_table(review: dict[str, Any]) -> Table:
    parts = ["coverage", "brand_fusion", "on_time", "violations", "complaints"]
    headers = ["排名 rank", "代码 code", "乡镇 town", "得分 score", *[f"分项 {p}" for p in parts]]
    rows = [
        [r["rank"], r["code"], r["name"], r["score"], *[r["components"].get(p) for p in parts]]
        for r in review["ranking"]["towns"]
    ]
    return Table(
        "ranking",
        "年终考核排名 Ranking for the year-end assessment",
        headers,
        rows,
        ["int", "text", "text", "num", *["num"] * len(parts)],
    )


def outbound_table(review: dict[str, Any]) -> Table:
    headers = [
        "代码 code",
        "乡镇 town",
        "上行包裹 produce sent",
        "生鲜 perishable",
        "首公里中位数 first mile median h",
        "首公里P90 first mile p90 h",
        "滞留生鲜(期末) stalled at end",
        "曾滞留 ever stalled",
        "24h出县率 out within 24 h",
    ]
    kinds = ["text", "text", "int", "int", "num", "num", "int", "int", "rate"]
    rows = [
        [
            t["code"],
            t["name"],
            t["collected"],
            t["perishable"],
            t["first_mile_median_h"],
            t["first_mile_p90_h"],
            t["perishable_stalled_now"],
            t["perishable_stalled_ever"],
            t["perishable_out_share"],
        ]
        for t in review["outbound"]["towns"]
    ]
    return Table("outbound", "农产品上行 Outbound farm produce", headers, rows, kinds)


def stalled_table(review: dict[str, Any]) -> Table:
    headers = ["包裹 parcel", "乡镇 town", "村 village", "品牌 carrier", "期末仍滞留 at end"]
    rows = [
        [s["parcel_id"], s["town"], s["village"], s["carrier"], "yes" if s["stalled_now"] else ""]
        for s in review["outbound"]["stalled"]
    ]
    title = "滞留超12小时的生鲜 Perishable parcels stalled > 12 h"
    return Table("stalled", title, headers, rows, ["text"] * 5)


def quality_table(review: dict[str, Any]) -> Table:
    headers = [
        "品牌 carrier",
        "扫描 scans",
        "签收 sign-offs",
        "无定位签收 without GPS",
        "无定位占比 share",
        "时钟超前 clock ahead",
        "重复事件 repeated ids",
        "无效消息 invalid",
        "提示 flags",
    ]
    kinds = ["text", "int", "int", "int", "rate", "int", "int", "int", "text"]
    rows = [
        [
            c["code"],
            c["scans"],
            c["delivered"],
            c["delivered_without_location"],
            c["delivered_without_location_share"],
            c["clock_skewed"],
            c["repeated"],
            c["invalid"],
            ", ".join(c["flags"]),
        ]
        for c in review["data_quality"]["carriers"]
    ]
    return Table("data-quality", "数据质量 Data quality", headers, rows, kinds)


def silent_table(review: dict[str, Any]) -> Table:
    headers = ["网点 point", "村 village", "乡镇 town", "最后扫描 last scan"]
    rows = [
        [p["point"], f"{p['village_name']} {p['village']}", p["town"], _day(p["last_scan_ts"])]
        for p in review["data_quality"]["silent_points"]
    ]
    title = "一周无扫描网点 Village points silent for 7 days"
    return Table("silent-points", title, headers, rows, ["text"] * 4)


def _day(ts: float | None) -> str | None:
    return None if ts is None else china_day(ts)


def all_tables(review: dict[str, Any]) -> list[Table]:
    tables = [
        towns_table(review),
        ranking_table(review),
        rules_table(review),
        coverage_table(review),
        carriers_table(review),
        dwell_table(review),
        change_table(review),
        worst_villages_table(review),
        worst_couriers_table(review),
    ]
    if "outbound" in review:  # contract §7 (both sources give it)
        tables += [
            outbound_table(review),
            stalled_table(review),
            quality_table(review),
            silent_table(review),
        ]
    return tables


def fmt(value: Any, kind: str) -> str:
    """Human formatting (HTML, Markdown). CSV writes raw values."""
    if value is None:
        return "n/a"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "delta-rate":
        return f"{value * 100:+.1f} pt"
    if kind == "delta-num":
        return f"{value:+g}"
    if kind == "num" and isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)
