"""Ranking of towns for the year-end assessment: a weighted score out of 100.

The method is data, so the report prints exactly what was computed (``METHOD``, in both
editions).
"""

from __future__ import annotations

from typing import Any

from lastmile.review.i18n import Text

# component -> (weight, figure in the town row, how a figure maps to 0..1)
WEIGHTS: dict[str, float] = {
    "coverage": 30.0,
    "brand_fusion": 15.0,
    "on_time": 20.0,
    "violations": 25.0,
    "complaints": 10.0,
}
BRAND_TARGET = 5

_W = {k: f"{v:g}" for k, v in WEIGHTS.items()}
METHOD = Text(
    "得分（满分100）= 各分项加权之和，每个分项在0到1之间："
    f"通达率（已通达行政村的比例）× {_W['coverage']}；"
    f"品牌融合（镇级服务中心扫描的品牌数 ÷ {BRAND_TARGET}，最多为1）× {_W['brand_fusion']}；"
    f"72小时准时率 × {_W['on_time']}；"
    "违规（1 − 本镇每万件投递违规数 ÷ 全县的两倍，最小为0：与全县平均持平得0.5）"
    f"× {_W['violations']}；"
    f"投诉（1 − 本镇每百万件包裹投诉数 ÷ 全县的两倍，最小为0）× {_W['complaints']}。"
    "全县某项比率为0时，各镇该分项均得1。"
    "某分项本期无数据（无投递、无包裹，或此来源无法提供）时不计入，其余权重按比例放大到100。"
    "同分时依次比较：通达率高者在前，每万件投递违规数少者在前，乡镇代码。",
    "Score out of 100 = sum of weighted components, each between 0 and 1: "
    f"village coverage (share of villages reached) × {_W['coverage']}; "
    f"brand fusion (carriers at the town centre ÷ {BRAND_TARGET}, at most 1) "
    f"× {_W['brand_fusion']}; 72-hour on-time rate × {_W['on_time']}; "
    "violations (1 − the town's violations per 10,000 deliveries ÷ twice the county's, at "
    f"least 0: a town at the county average scores 0.5) × {_W['violations']}; complaints "
    "(1 − the town's complaints per million parcels ÷ twice the county's, at least 0) × "
    f"{_W['complaints']}. When the county's rate is 0 every town scores 1 on it. "
    "A component without data "
    "in the period (no deliveries, no parcels, figure not available from the source) is left "
    "out and the other weights are scaled up to 100. Ties: higher coverage first, then fewer "
    "violations per 10,000 deliveries, then the town code.",
)


def _relative(x: float | None, county: float | None) -> float | None:
    """1 at zero, 0.5 at the county's rate, 0 at twice it or more."""
    if x is None:
        return None
    if not county:
        return 1.0
    return max(0.0, 1 - x / (2 * county))


def components(row: dict[str, Any], county: dict[str, Any]) -> dict[str, float | None]:
    """Each component's 0..1 value for one town row (None: no data)."""
    v10k = row.get("violations_per_10k_deliveries")
    cpm = row.get("complaints_per_million_parcels")
    brands = row.get("brand_count")
    return {
        "coverage": row.get("coverage"),
        "brand_fusion": None if brands is None else min(brands / BRAND_TARGET, 1.0),
        "on_time": row.get("on_time_rate"),
        "violations": _relative(v10k, county.get("violations_per_10k_deliveries")),
        "complaints": _relative(cpm, county.get("complaints_per_million_parcels")),
    }


def score(
    row: dict[str, Any], county: dict[str, Any]
) -> tuple[float | None, dict[str, float | None]]:
    parts = components(row, county)
    weight = sum(WEIGHTS[k] for k, v in parts.items() if v is not None)
    if not weight:
        return None, parts
    total = sum(WEIGHTS[k] * v for k, v in parts.items() if v is not None)
    return round(total / weight * 100, 1), {
        k: None if v is None else round(v, 4) for k, v in parts.items()
    }


def rank_towns(rows: list[dict[str, Any]], county: dict[str, Any]) -> list[dict[str, Any]]:
    """Rank town rows against the county totals (sets ``score`` and ``rank`` on each row)."""
    scored = []
    for row in rows:
        s, parts = score(row, county)
        row["score"] = s
        scored.append((row, s, parts))

    def key(item: tuple[dict[str, Any], float | None, dict[str, float | None]]) -> tuple[Any, ...]:
        row, s, _ = item
        v10k = row.get("violations_per_10k_deliveries")
        return (
            -(s if s is not None else -1.0),
            -(row.get("coverage") or 0.0),
            v10k if v10k is not None else float("inf"),
            row["code"],
        )

    table = []
    for rank, (row, s, parts) in enumerate(sorted(scored, key=key), start=1):
        row["rank"] = rank
        table.append(
            {
                "rank": rank,
                "code": row["code"],
                "name": row["name"],
                "score": s,
                "components": parts,
            }
        )
    return table
