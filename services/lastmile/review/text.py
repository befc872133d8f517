"""Header texts shared by the Markdown and HTML reports."""

from __future__ import annotations

from typing import Any

SOURCE_TEXT = {
    "replay": "事件日志重放 replay of the event log through the detection core",
    "redis": "Redis 读模型 the worker's Redis read models (rollups)",
}
NA_TEXT = (
    "n/a = 此来源无法提供或本期无数据 not available from this source, or no data in the period"
)


def title(review: dict[str, Any]) -> str:
    scope = review["county"]["name"]
    f = review["filters"]
    if f.get("town"):
        town = next((t["name"] for t in review["towns"] if t["code"] == f["town"]), f["town"])
        scope += f" {town}"
    if f.get("carrier"):
        scope += f" {f['carrier']}"
    p = review["period"]
    return f"{scope} 快递进村服务质量评估 Service-quality review {p['from']} – {p['to']}"


def summary_lines(review: dict[str, Any]) -> list[str]:
    p, prev = review["period"], review["previous_period"]
    return [
        f"统计期 period: {p['from']} – {p['to']} ({p['days']} 天 days, 中国时间 China time UTC+8)",
        f"上期 previous period: {prev['from']} – {prev['to']}"
        + ("" if prev["available"] else "（无数据 no data）"),
        f"数据来源 source: {SOURCE_TEXT.get(review['source'], review['source'])}",
        f"生成时间 generated: {review['generated_at']}",
        NA_TEXT,
    ]
