"""Header and section texts shared by the Markdown, HTML and PDF reports, in both editions."""

from __future__ import annotations

from typing import Any

from lastmile.review.i18n import NOT_AVAILABLE, Lang, Text, china_time

SOURCE_TEXT = {
    "replay": Text(
        "事件日志重放（经检测核心）", "replay of the event log through the detection core"
    ),
    "redis": Text("Redis 读模型（流处理汇总）", "the worker's Redis read models (rollups)"),
}
NA_TEXT = Text(
    "{na} = 此来源无法提供该数字，或本期无数据",
    "{na} = not available from this source, or no data in the period",
)
TITLE = Text(
    "{scope} 快递进村服务质量评估（{start} 至 {end}）",
    "{scope} service-quality review, {start} – {end}",
)
SECTIONS = {
    "charts": Text("图表", "Charts"),
    "method": Text("排名方法", "Ranking method"),
    "notes": Text("说明", "Notes"),
    "no_data": Text("（本期无数据）", "(no data in the period)"),
}
_PERIOD = Text(
    "统计期：{start} 至 {end}（{days} 天，北京时间）",
    "period: {start} – {end} ({days} days, China time UTC+8)",
)
_PREVIOUS = Text("上期：{start} 至 {end}", "previous period: {start} – {end}")
_PREVIOUS_NONE = Text(
    "上期：{start} 至 {end}（无数据，本期为首期）",
    "previous period: {start} – {end} (no data: this is the first period)",
)
_SOURCE = Text("数据来源：{source}", "source: {source}")
_GENERATED = Text("生成时间：{at}", "generated: {at}")


def scope_name(review: dict[str, Any]) -> str:
    """The county, and the town and carrier a filtered report is about."""
    scope = review["county"]["name"]
    f = review["filters"]
    if f.get("town"):
        town = next((t["name"] for t in review["towns"] if t["code"] == f["town"]), f["town"])
        scope += f" {town}"
    if f.get("carrier"):
        scope += f" {f['carrier']}"
    return str(scope)


def title(review: dict[str, Any], lang: Lang) -> str:
    p = review["period"]
    return TITLE.format(lang, scope=scope_name(review), start=p["from"], end=p["to"])


def summary_lines(review: dict[str, Any], lang: Lang) -> list[str]:
    p, prev = review["period"], review["previous_period"]
    source = SOURCE_TEXT[review["source"]](lang) if review["source"] in SOURCE_TEXT else ""
    previous = _PREVIOUS if prev["available"] else _PREVIOUS_NONE
    return [
        _PERIOD.format(lang, start=p["from"], end=p["to"], days=p["days"]),
        previous.format(lang, start=prev["from"], end=prev["to"]),
        _SOURCE.format(lang, source=source or review["source"]),
        _GENERATED.format(lang, at=china_time(review["generated_at"], lang)),
        NA_TEXT.format(lang, na=NOT_AVAILABLE(lang)),
    ]
