"""The review's tables as (title, headers, rows of raw values), shared by HTML, Markdown, CSV.

Every format lays out these same tables from the same review dict, so they show the same
numbers as the JSON. ``None`` is a figure the source cannot give or the period lacks.
Titles, headers and the few words in cells come in the edition asked for (``lang``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lastmile.domain.rules import RULES
from lastmile.review.collected import TYPES, UNKNOWN
from lastmile.review.i18n import (
    NO,
    NONE_LISTED,
    NOT_AVAILABLE,
    RULE_NAMES,
    TIERS,
    TOTAL,
    TYPE_NAMES,
    UNKNOWN_TOWN,
    YES,
    Lang,
    Text,
)
from lastmile.review.period import china_day

CHANGE_LABELS = {
    "deliveries": Text("投递", "deliveries"),
    "on_time_rate": Text("72小时准时率", "72 h on-time"),
    "violations_per_10k_deliveries": Text("每万件投递违规", "violations per 10k deliveries"),
    "complaints_per_million_parcels": Text("每百万件投诉", "complaints per M parcels"),
    "coverage": Text("通达率", "coverage"),
}
H = {
    "code": Text("代码", "code"),
    "town": Text("乡镇", "town"),
    "parcels": Text("包裹", "parcels"),
    "deliveries": Text("投递", "deliveries"),
    "on_time": Text("72小时准时率", "72 h on-time"),
    "median_h": Text("全程中位数（小时）", "end-to-end median h"),
    "p90_h": Text("全程P90（小时）", "end-to-end p90 h"),
    "total": Text("违规合计", "violations"),
    "per_10k": Text("每万件投递违规", "violations per 10k deliveries"),
    "complaints": Text("投诉", "complaints"),
    "per_m": Text("每百万件包裹投诉", "complaints per M parcels"),
    "coverage": Text("通达率", "coverage"),
    "brands": Text("品牌数", "brands"),
    "stuck": Text("滞留超过48小时", "stuck > 48 h"),
    "score": Text("得分", "score"),
    "rank": Text("排名", "rank"),
    "carrier": Text("品牌", "carrier"),
}
NO_PREVIOUS = Text(
    "上期（{start} 至 {end}）无数据：本期为首期，不作环比。",
    "There is no earlier period: {start} – {end} holds no data, so no change is shown.",
)


@dataclass
class Table:
    key: str  # file-name part for CSV
    title: str
    headers: list[str]
    rows: list[list[Any]]
    kinds: list[str]  # per column: text, int, rate (0..1 shown as %), num
    empty: str = ""  # what HTML and Markdown say instead of an empty table ("" = no data)


def _type_headers(lang: Lang) -> list[str]:
    return [TYPE_NAMES[t](lang) for t in TYPES]


def town_name(row: dict[str, Any], lang: Lang) -> str:
    return UNKNOWN_TOWN(lang) if row["code"] == UNKNOWN else str(row["name"])


def towns_table(review: dict[str, Any], lang: Lang) -> Table:
    keys = ["code", "town", "parcels", "deliveries", "on_time", "median_h", "p90_h"]
    tail = ["total", "per_10k", "complaints", "per_m", "coverage", "brands", "stuck"]
    headers = [H[k](lang) for k in keys] + _type_headers(lang)
    headers += [H[k](lang) for k in (*tail, "score", "rank")]
    kinds = ["text", "text", "int", "int", "rate", "num", "num", *["int"] * len(TYPES)]
    kinds += ["int", "num", "int", "num", "rate", "int", "int", "num", "int"]
    rows = []
    for t in review["towns"]:
        stuck = t.get("stuck_over_48h")
        rows.append(
            [
                t["code"],
                town_name(t, lang),
                *_core(t),
                t.get("coverage"),
                t.get("brand_count"),
                None if stuck is None else sum(stuck.values()),
                t.get("score"),
                t.get("rank"),
            ]
        )
    stuck = review.get("stuck_over_48h")
    total = [None if stuck is None else sum(stuck.values()), None, None]
    rows.append(["", TOTAL(lang), *_core(review["totals"]), None, None, *total])
    return Table("towns", Text("乡镇汇总", "Towns")(lang), headers, rows, kinds)


def _core(r: dict[str, Any]) -> list[Any]:
    """The columns a town, a carrier and the totals share, from parcels to complaints/M."""
    return [
        r["parcels"],
        r["deliveries"],
        r["on_time_rate"],
        r["end_to_end_median_h"],
        r["end_to_end_p90_h"],
        *[r["violations"][k] for k in TYPES],
        r["violations_total"],
        r["violations_per_10k_deliveries"],
        r["complaints_total"],
        r["complaints_per_million_parcels"],
    ]


def carriers_table(review: dict[str, Any], lang: Lang) -> Table:
    keys = ["parcels", "deliveries", "on_time", "median_h", "p90_h"]
    headers = [H["carrier"](lang), *[H[k](lang) for k in keys], *_type_headers(lang)]
    headers += [H[k](lang) for k in ("total", "per_10k", "complaints", "per_m")]
    kinds = ["text", "int", "int", "rate", "num", "num", *["int"] * len(TYPES)]
    kinds += ["int", "num", "int", "num"]
    rows = [[c["code"], *_core(c)] for c in review["carriers"]]
    return Table("carriers", Text("快递品牌", "Carriers")(lang), headers, rows, kinds)


def rules_table(review: dict[str, Any], lang: Lang) -> Table:
    rules = list(RULES)

    def rule_header(rule: str) -> str:
        vtype, name = rule.split("/")
        return f"{TYPE_NAMES[vtype](lang)} · {RULE_NAMES[name](lang)}"

    headers = [H["code"](lang), H["town"](lang), *[rule_header(r) for r in rules]]
    rows = [
        [t["code"], town_name(t, lang), *[t["violations_by_rule"].get(r, 0) for r in rules]]
        for t in review["towns"]
    ]
    by_rule = review["totals"]["violations_by_rule"]
    rows.append(["", TOTAL(lang), *[by_rule.get(r, 0) for r in rules]])
    return Table(
        "rules",
        Text("违规（按规则）", "Violations by rule")(lang),
        headers,
        rows,
        ["text", "text", *["int"] * len(rules)],
    )


def coverage_table(review: dict[str, Any], lang: Lang) -> Table:
    headers = [
        H["code"](lang),
        H["town"](lang),
        Text("行政村", "villages")(lang),
        Text("已通达", "reached")(lang),
        Text("无法判定", "undetermined")(lang),
        H["coverage"](lang),
        Text("未通达的村", "villages not reached")(lang),
        H["brands"](lang),
        Text("品牌", "carriers")(lang),
        Text("达到5个品牌", "at least 5 brands")(lang),
    ]
    kinds = ["text", "text", "int", "int", "int", "rate", "text", "int", "text", "text"]
    sep = "、" if lang == "zh" else ", "
    rows = [
        [
            t["code"],
            town_name(t, lang),
            t["villages"],
            t["villages_reached"],
            t["villages_undetermined"],
            t["coverage"],
            sep.join(f"{v['name']}（{v['code']}）" for v in t["villages_not_reached"])
            or NONE_LISTED(lang),
            t["brand_count"],
            " ".join(t["brands"]) or NONE_LISTED(lang),
            (YES if t["brand_fusion_met"] else NO)(lang),
        ]
        for t in review["towns"]
        if "villages" in t
    ]
    title = Text("通达率与品牌融合", "Coverage and brand fusion")(lang)
    return Table("coverage", title, headers, rows, kinds)


def dwell_table(review: dict[str, Any], lang: Lang) -> Table:
    headers = [
        Text("层级", "tier")(lang),
        Text("经停次数", "stays")(lang),
        Text("中位数（小时）", "median h")(lang),
        Text("P90（小时）", "p90 h")(lang),
        Text("滞留超过48小时的包裹", "parcels stuck > 48 h")(lang),
    ]
    dwell = review.get("dwell_hours")
    stuck = review.get("stuck_over_48h") or {}
    rows = []
    if dwell is not None:
        for tier in sorted(set(dwell) | set(stuck)):
            d = dwell.get(tier, {})
            name = TIERS[tier](lang) if tier in TIERS else tier
            rows.append(
                [name, d.get("hops", 0), d.get("median_h"), d.get("p90_h"), stuck.get(tier, 0)]
            )
    return Table(
        "dwell",
        Text("各层级停留时间", "Dwell at each tier")(lang),
        headers,
        rows,
        ["text", "int", "num", "num", "int"],
    )


def change_table(review: dict[str, Any], lang: Lang) -> Table:
    """Each key figure against the previous period; a first period says so instead."""
    headers = [H["code"](lang), Text("名称", "name")(lang)]
    kinds = ["text", "text"]
    for key, label in CHANGE_LABELS.items():
        kind = "rate" if key in ("on_time_rate", "coverage") else "num"
        headers += [
            Text("{x} 上期", "{x} previous").format(lang, x=label(lang)),
            Text("{x} 变化", "{x} change").format(lang, x=label(lang)),
        ]
        kinds += [kind, "delta-" + kind]
    title = Text("与上期比较", "Change against the previous period")(lang)
    prev = review["previous_period"]
    if not prev["available"]:
        empty = NO_PREVIOUS.format(lang, start=prev["from"], end=prev["to"])
        return Table("change", title, headers, [], kinds, empty=empty)
    rows = []
    scopes = [
        *[{**t, "name": town_name(t, lang)} for t in review["towns"]],
        *review["carriers"],
        {"code": "", "name": TOTAL(lang), **review["totals"]},
    ]
    for s in scopes:
        row: list[Any] = [s["code"], s.get("name", "")]
        for key in CHANGE_LABELS:
            ch = s["change"].get(key) or {}
            row += [ch.get("previous"), ch.get("change")]
        rows.append(row)
    return Table("change", title, headers, rows, kinds)


def worst_villages_table(review: dict[str, Any], lang: Lang) -> Table:
    headers = [
        Text("行政村", "village")(lang),
        H["code"](lang),
        H["town"](lang),
        *_type_headers(lang),
        H["total"](lang),
    ]
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
        Text("违规最多的村", "Villages with the most violations")(lang),
        headers,
        rows,
        ["text", "text", "text", *["int"] * len(TYPES), "int"],
    )


def worst_couriers_table(review: dict[str, Any], lang: Lang) -> Table:
    headers = [
        Text("快递员（化名）", "courier (pseudonym)")(lang),
        H["carrier"](lang),
        *_type_headers(lang),
        H["total"](lang),
    ]
    rows = [
        [c["courier"], c["carrier"], *[c["violations"][k] for k in TYPES], c["violations_total"]]
        for c in review["worst_couriers"]
    ]
    return Table(
        "worst-couriers",
        Text("违规最多的快递员", "Couriers with the most violations")(lang),
        headers,
        rows,
        ["text", "text", *["int"] * len(TYPES), "int"],
    )


PARTS = {
    "coverage": Text("通达率", "coverage"),
    "brand_fusion": Text("品牌融合", "brand fusion"),
    "on_time": Text("准时率", "on-time"),
    "violations": Text("违规", "violations"),
    "complaints": Text("投诉", "complaints"),
}


def ranking_table(review: dict[str, Any], lang: Lang) -> Table:
    part = Text("分项：{x}", "component: {x}")
    headers = [H["rank"](lang), H["code"](lang), H["town"](lang), H["score"](lang)]
    headers += [part.format(lang, x=label(lang)) for label in PARTS.values()]
    rows = [
        [
            r["rank"],
            r["code"],
            town_name(r, lang),
            r["score"],
            *[r["components"].get(p) for p in PARTS],
        ]
        for r in review["ranking"]["towns"]
    ]
    return Table(
        "ranking",
        Text("年终考核排名", "Ranking for the year-end assessment")(lang),
        headers,
        rows,
        ["int", "text", "text", "num", *["num"] * len(PARTS)],
    )


def _headers(pairs: list[tuple[str, str]], lang: Lang) -> list[str]:
    return [Text(zh, en)(lang) for zh, en in pairs]


def outbound_table(review: dict[str, Any], lang: Lang) -> Table:
    headers = _headers(
        [
            ("代码", "code"),
            ("乡镇", "town"),
            ("上行包裹", "produce sent"),
            ("生鲜", "perishable"),
            ("首公里中位数（小时）", "first mile median h"),
            ("首公里P90（小时）", "first mile p90 h"),
            ("滞留生鲜（期末）", "stalled at end"),
            ("曾滞留", "ever stalled"),
            ("24小时出县率", "out within 24 h"),
        ],
        lang,
    )
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
    return Table(
        "outbound", Text("农产品上行", "Outbound farm produce")(lang), headers, rows, kinds
    )


def stalled_table(review: dict[str, Any], lang: Lang) -> Table:
    headers = _headers(
        [
            ("包裹", "parcel"),
            ("乡镇", "town"),
            ("村", "village"),
            ("品牌", "carrier"),
            ("期末仍滞留", "at end"),
        ],
        lang,
    )
    rows = [
        [
            s["parcel_id"],
            s["town"],
            s["village"],
            s["carrier"],
            YES(lang) if s["stalled_now"] else "",
        ]
        for s in review["outbound"]["stalled"]
    ]
    title = Text("滞留超12小时的生鲜", "Perishable parcels stalled > 12 h")(lang)
    return Table("stalled", title, headers, rows, ["text"] * 5)


def quality_table(review: dict[str, Any], lang: Lang) -> Table:
    headers = _headers(
        [
            ("品牌", "carrier"),
            ("扫描", "scans"),
            ("签收", "sign-offs"),
            ("无定位签收", "without GPS"),
            ("无定位占比", "share"),
            ("时钟超前", "clock ahead"),
            ("重复事件", "repeated ids"),
            ("无效消息", "invalid"),
            ("提示", "flags"),
        ],
        lang,
    )
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
    return Table("data-quality", Text("数据质量", "Data quality")(lang), headers, rows, kinds)


def silent_table(review: dict[str, Any], lang: Lang) -> Table:
    headers = _headers(
        [("网点", "point"), ("村", "village"), ("乡镇", "town"), ("最后扫描", "last scan")], lang
    )
    rows = [
        [p["point"], f"{p['village_name']} {p['village']}", p["town"], _day(p["last_scan_ts"])]
        for p in review["data_quality"]["silent_points"]
    ]
    title = Text("一周无扫描网点", "Village points silent for 7 days")(lang)
    return Table("silent-points", title, headers, rows, ["text"] * 4)


def _day(ts: float | None) -> str | None:
    return None if ts is None else china_day(ts)


def all_tables(review: dict[str, Any], lang: Lang) -> list[Table]:
    tables = [
        towns_table(review, lang),
        ranking_table(review, lang),
        rules_table(review, lang),
        coverage_table(review, lang),
        carriers_table(review, lang),
        dwell_table(review, lang),
        change_table(review, lang),
        worst_villages_table(review, lang),
        worst_couriers_table(review, lang),
    ]
    if "outbound" in review:  # contract §7 (both sources give it)
        tables += [
            outbound_table(review, lang),
            stalled_table(review, lang),
            quality_table(review, lang),
            silent_table(review, lang),
        ]
    return tables


def fmt(value: Any, kind: str, lang: Lang) -> str:
    """Human formatting (HTML, Markdown). CSV writes raw values."""
    if value is None:
        return NOT_AVAILABLE(lang)
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "delta-rate":
        return f"{value * 100:+.1f} pt" if lang == "en" else f"{value * 100:+.1f} 个百分点"
    if kind == "delta-num":
        return f"{value:+g}"
    if kind == "num" and isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)
