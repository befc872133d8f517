#!/usr/bin/env python3
"""Generate the lastmile Grafana dashboards (stdlib only).

    python3 deploy/grafana/generate.py          # rewrite deploy/grafana/dashboards/*.json
    python3 deploy/grafana/generate.py --check  # exit 1 if a committed JSON is out of date

The JSON files are committed; edit this script, run it, commit both. Every query uses the
data source provisioned with uid "lastmile-prom" and, wherever possible, the recording
rules of deploy/prometheus/lastmile-rules.yml, so the dashboards and the alerts agree.
tests/integration/test_deploy_configs.py checks that every expression parses and that
every metric it names is documented in docs/metrics.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "lastmile-prom"}
SCHEMA_VERSION = 39

# Filters shared by the quality dashboards (multi-value template variables -> regex).
SEL_CT = 'carrier=~"$carrier", town=~"$town"'
SEL_C = 'carrier=~"$carrier"'
SEL_T = 'town=~"$town"'
SEL_FEE = f'type="extra_fee", remote="true", {SEL_CT}'  # 偏远农村二次收费
VIOL = "lastmile_violations_total"
RI = "[$__rate_interval]"


def with_town_name(expr: str) -> str:
    """Attach the Chinese display name (label "name") to a per-town series, if known."""
    info = "town_name:lastmile_town_info:max"
    return f"({expr}) * on (town) group_left (name) {info} or on (town) ({expr})"


# ---------------------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------------------
class Board:
    def __init__(self, uid: str, title: str, description: str, variables: list[dict[str, Any]]):
        self.uid = uid
        self.title = title
        self.description = description
        self.variables = variables
        self.panels: list[dict[str, Any]] = []
        self._x = 0
        self._y = 0
        self._row_h = 0

    def _place(self, w: int, h: int) -> dict[str, int]:
        if self._x + w > 24:
            self._x = 0
            self._y += self._row_h
            self._row_h = 0
        pos = {"x": self._x, "y": self._y, "w": w, "h": h}
        self._x += w
        self._row_h = max(self._row_h, h)
        return pos

    def row(self, title: str) -> None:
        if self._x:
            self._x = 0
            self._y += self._row_h
            self._row_h = 0
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": self._y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        self._y += 1

    def panel(
        self,
        kind: str,
        title: str,
        targets: list[tuple[str, str]],
        *,
        w: int = 12,
        h: int = 8,
        unit: str = "short",
        description: str = "",
        instant: bool = False,
        table: bool = False,
        thresholds: list[tuple[float | None, str]] | None = None,
        decimals: int | None = None,
        minmax: tuple[float, float] | None = None,
        options: dict[str, Any] | None = None,
        transformations: list[dict[str, Any]] | None = None,
    ) -> None:
        refs = "ABCDEFGHIJ"
        tgts = []
        for i, (expr, legend) in enumerate(targets):
            tgt: dict[str, Any] = {
                "datasource": DS,
                "refId": refs[i],
                "expr": expr,
                "legendFormat": legend or "__auto",
                "range": not instant,
                "instant": instant,
            }
            if table:
                tgt["format"] = "table"
            if kind == "heatmap":
                tgt["format"] = "heatmap"
            tgts.append(tgt)
        steps = [
            {"color": color, "value": value} for value, color in (thresholds or [(None, "green")])
        ]
        defaults: dict[str, Any] = {
            "unit": unit,
            "thresholds": {"mode": "absolute", "steps": steps},
            "color": {
                "mode": "thresholds" if kind in ("stat", "bargauge", "gauge") else "palette-classic"
            },
        }
        if decimals is not None:
            defaults["decimals"] = decimals
        if minmax is not None:
            defaults["min"], defaults["max"] = minmax
        p: dict[str, Any] = {
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": self._place(w, h),
            "targets": tgts,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options or {},
        }
        if transformations:
            p["transformations"] = transformations
        self.panels.append(p)

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["lastmile", "快递进村"],
            "timezone": "Asia/Shanghai",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "refresh": "1m",
            "time": {"from": "now-7d", "to": "now"},
            "timepicker": {},
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "monday",
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    },
                    {
                        "datasource": DS,
                        "enable": True,
                        "iconColor": "red",
                        "name": "告警 / Firing alerts",
                        "expr": 'ALERTS{alertstate="firing", alertname=~"Lastmile.*"}',
                        "titleFormat": "{{alertname}}",
                        "textFormat": "{{carrier}} {{town}} {{topic}}",
                        "tagKeys": "severity,audience",
                        "step": "1m",
                    },
                ]
            },
            "links": [
                {
                    "title": "lastmile",
                    "type": "dashboards",
                    "tags": ["lastmile"],
                    "asDropdown": True,
                    "includeVars": True,
                    "keepTime": True,
                }
            ],
            "templating": {"list": self.variables},
            "panels": self.panels,
        }


def query_var(
    name: str, label: str, query: str, *, regex: str = "", multi: bool = True
) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable", "qryType": 1},
        "regex": regex,
        "refresh": 2,  # on time-range change
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {},
        "hide": 0,
        "options": [],
    }


def custom_var(name: str, label: str, values: list[str]) -> dict[str, Any]:
    return {
        "type": "custom",
        "name": name,
        "label": label,
        "query": ",".join(values),
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "options": [],
    }


CARRIER_VAR = query_var(
    "carrier", "快递品牌 / Carrier", "label_values(lastmile_deliveries_total, carrier)"
)
# Town codes as values, Chinese names as the text shown (label order in query_result is
# alphabetical: name before town).
TOWN_VAR = query_var(
    "town",
    "乡镇 / Town",
    "query_result(town_name:lastmile_town_info:max)",
    regex='/name="(?<text>[^"]+)".*town="(?<value>[^"]+)"/',
)
TYPE_VAR = custom_var(
    "type", "违规类型 / Violation type", ["wrong_address", "false_signoff", "extra_fee"]
)
RULE_VAR = query_var(
    "rule", "规则 / Rule", 'label_values(lastmile_violations_total{type=~"$type"}, rule)'
)
INSTANCE_VAR = query_var(
    "instance", "节点 / Worker", 'label_values(up{job="lastmile-worker"}, instance)'
)

RED_BELOW_1 = [(None, "red"), (0.95, "orange"), (1, "green")]
PER_10K = [(None, "green"), (50, "orange"), (100, "red")]


# ---------------------------------------------------------------------------------------
# 监管总览 / Regulator overview
# ---------------------------------------------------------------------------------------
def regulator_overview() -> Board:
    b = Board(
        "lastmile-regulator-overview",
        "监管总览 / Regulator overview",
        "快递进村 delivery quality by town and carrier: volume, violations per 10,000 deliveries, "
        "72 h on-time rate, village coverage.",
        [CARRIER_VAR, TOWN_VAR],
    )
    b.row("今日概况 / Last 24 hours")
    b.panel(
        "stat",
        "妥投量 / Deliveries (24 h)",
        [(f"sum(increase(lastmile_deliveries_total{{{SEL_CT}}}[1d]))", "")],
        w=4,
        h=4,
        decimals=0,
    )
    b.panel(
        "stat",
        "每万件违规 / Violations per 10k (24 h)",
        [
            (
                f"1e4 * sum(increase(lastmile_violations_total{{{SEL_CT}}}[1d]))"
                f" / sum(increase(lastmile_deliveries_total{{{SEL_CT}}}[1d]))",
                "",
            )
        ],
        w=4,
        h=4,
        decimals=1,
        thresholds=PER_10K,
    )
    b.panel(
        "stat",
        "偏远村二次收费 / Remote-village extra fees (24 h)",
        [
            (
                f"sum(increase({VIOL}{{{SEL_FEE}}}[1d])) or vector(0)",
                "",
            )
        ],
        w=4,
        h=4,
        decimals=0,
        thresholds=[(None, "green"), (1, "red")],
    )
    b.panel(
        "stat",
        "72小时妥投率 / 72 h on-time (24 h)",
        [
            (
                f"sum(increase(lastmile_delivered_within_72h_total{{{SEL_CT}}}[1d]))"
                f" / sum(increase(lastmile_end_to_end_seconds_count{{{SEL_CT}}}[1d]))",
                "",
            )
        ],
        w=4,
        h=4,
        unit="percentunit",
        decimals=1,
        thresholds=[(None, "red"), (0.9, "orange"), (0.95, "green")],
    )
    b.panel(
        "stat",
        "全县通达率 / County village coverage (30 d)",
        [("job:lastmile_village_coverage:ratio", "")],
        w=4,
        h=4,
        unit="percentunit",
        decimals=1,
        thresholds=RED_BELOW_1,
    )
    b.panel(
        "stat",
        "监管告警 / Firing regulator alerts",
        [('count(ALERTS{alertstate="firing", audience="regulator"}) or vector(0)', "")],
        w=4,
        h=4,
        decimals=0,
        thresholds=[(None, "green"), (1, "red")],
    )

    b.row("按快递品牌 / By carrier")
    b.panel(
        "bargauge",
        "每万件违规(按品牌) / Violations per 10k deliveries by carrier (24 h)",
        [(f"carrier:lastmile_violations_per_10k_deliveries:increase1d{{{SEL_C}}}", "{{carrier}}")],
        instant=True,
        decimals=1,
        thresholds=PER_10K,
        options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
    )
    b.panel(
        "bargauge",
        "72小时妥投率(按品牌) / 72 h on-time rate by carrier (24 h)",
        [(f"carrier:lastmile_delivered_within_72h:ratio_increase1d{{{SEL_C}}}", "{{carrier}}")],
        instant=True,
        unit="percentunit",
        decimals=1,
        minmax=(0, 1),
        thresholds=[(None, "red"), (0.9, "orange"), (0.95, "green")],
        options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
    )
    b.panel(
        "timeseries",
        "每万件违规趋势 / Violations per 10k by carrier (rolling 24 h)",
        [(f"carrier:lastmile_violations_per_10k_deliveries:increase1d{{{SEL_C}}}", "{{carrier}}")],
        decimals=1,
    )
    b.panel(
        "timeseries",
        "72小时妥投率趋势 / 72 h on-time rate by carrier (rolling 24 h)",
        [(f"carrier:lastmile_delivered_within_72h:ratio_increase1d{{{SEL_C}}}", "{{carrier}}")],
        unit="percentunit",
        minmax=(0, 1),
    )
    b.panel(
        "timeseries",
        "全程时效 P50/P90 / End-to-end hours p50 / p90 by carrier (24 h)",
        [
            # the metric is in seconds (base unit); shown in hours, the programme's unit
            (
                f"carrier:lastmile_end_to_end_seconds:p50_rate1d{{{SEL_C}}} / 3600",
                "p50 {{carrier}}",
            ),
            (
                f"carrier:lastmile_end_to_end_seconds:p90_rate1d{{{SEL_C}}} / 3600",
                "p90 {{carrier}}",
            ),
        ],
        unit="h",
        description="First arrival at the county centre -> delivered, hours.",
    )
    b.panel(
        "bargauge",
        "近30天每万件违规 / Violations per 10k by carrier (30 d)",
        [(f"carrier:lastmile_violations_per_10k_deliveries:increase30d{{{SEL_C}}}", "{{carrier}}")],
        instant=True,
        decimals=1,
        thresholds=PER_10K,
        options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
    )

    b.row("按乡镇 / By town")
    b.panel(
        "bargauge",
        "每万件违规(按乡镇) / Violations per 10k deliveries by town (24 h)",
        [
            (
                with_town_name(
                    f"town:lastmile_violations_per_10k_deliveries:increase1d{{{SEL_T}}}"
                ),
                "{{name}} {{town}}",
            )
        ],
        instant=True,
        decimals=1,
        thresholds=PER_10K,
        options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
    )
    b.panel(
        "bargauge",
        "72小时妥投率(按乡镇) / 72 h on-time rate by town (24 h)",
        [
            (
                with_town_name(f"town:lastmile_delivered_within_72h:ratio_increase1d{{{SEL_T}}}"),
                "{{name}} {{town}}",
            )
        ],
        instant=True,
        unit="percentunit",
        decimals=1,
        minmax=(0, 1),
        thresholds=[(None, "red"), (0.9, "orange"), (0.95, "green")],
        options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
    )
    b.panel(
        "table",
        "品牌×乡镇 每万件违规 / Violations per 10k, carrier x town (24 h)",
        [(f"carrier_town:lastmile_violations_per_10k_deliveries:increase1d{{{SEL_CT}}}", "")],
        w=24,
        h=10,
        instant=True,
        table=True,
        decimals=1,
        thresholds=PER_10K,
        transformations=[
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True}, "renameByName": {"Value": "per 10k"}},
            },
            {
                "id": "groupingToMatrix",
                "options": {"columnField": "carrier", "rowField": "town", "valueField": "per 10k"},
            },
        ],
    )
    return b


# ---------------------------------------------------------------------------------------
# 违规明细 / Violations by rule
# ---------------------------------------------------------------------------------------
def violations_by_rule() -> Board:
    sel = f'type=~"$type", rule=~"$rule", {SEL_CT}'
    b = Board(
        "lastmile-violations-by-rule",
        "违规明细 / Violations by rule",
        "不按址投递 wrong_address, 虚假签收 false_signoff, 违规二次收费 extra_fee: which detection "
        "rule fired, for which carrier and town.",
        [TYPE_VAR, RULE_VAR, CARRIER_VAR, TOWN_VAR],
    )
    b.row("规则 / Rules")
    b.panel(
        "timeseries",
        "每小时违规(按规则) / Violations per hour by rule",
        [
            (
                f"sum by (type, rule) (increase(lastmile_violations_total{{{sel}}}[1h]))",
                "{{type}} / {{rule}}",
            )
        ],
        w=16,
        decimals=0,
        options={"legend": {"displayMode": "table", "placement": "right", "calcs": ["sum"]}},
    )
    b.panel(
        "bargauge",
        "24小时违规(按规则) / Violations by rule (24 h)",
        [
            (
                f"sum by (type, rule) (increase(lastmile_violations_total{{{sel}}}[1d]))",
                "{{type}} / {{rule}}",
            )
        ],
        w=8,
        instant=True,
        decimals=0,
        options={"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True},
    )
    b.panel(
        "timeseries",
        "每万件违规(按类型与品牌) / Violations per 10k by type and carrier (rolling 24 h)",
        [
            (
                "carrier_type:lastmile_violations_per_10k_deliveries:increase1d"
                f'{{type=~"$type", {SEL_C}}}',
                "{{carrier}} {{type}}",
            )
        ],
        decimals=1,
    )
    b.panel(
        "timeseries",
        "偏远村 vs 非偏远村 / Remote vs other villages (violations per hour)",
        [
            (
                f"sum by (type, remote) (increase(lastmile_violations_total{{{sel}}}[1h]))",
                "{{type}} remote={{remote}}",
            )
        ],
        decimals=0,
    )
    b.row("明细 / Detail (24 h)")
    b.panel(
        "table",
        "品牌×规则 / Carrier x rule (24 h)",
        [
            (
                f"sum by (carrier, type, rule) (increase({VIOL}{{{sel}}}[1d])) > 0",
                "",
            )
        ],
        instant=True,
        table=True,
        decimals=0,
        transformations=[
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True}, "renameByName": {"Value": "24 h"}},
            }
        ],
    )
    b.panel(
        "table",
        "乡镇×规则 / Town x rule (24 h)",
        [
            (
                with_town_name(f"sum by (town, type, rule) (increase({VIOL}{{{sel}}}[1d])) > 0"),
                "",
            )
        ],
        instant=True,
        table=True,
        decimals=0,
        transformations=[
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True}, "renameByName": {"Value": "24 h"}},
            }
        ],
    )
    b.panel(
        "table",
        "偏远村二次收费 / Extra fees in remote villages (7 d)",
        [
            (
                with_town_name(f"sum by (carrier, town) (increase({VIOL}{{{SEL_FEE}}}[7d])) > 0"),
                "",
            )
        ],
        instant=True,
        table=True,
        decimals=0,
        thresholds=[(None, "red")],
        description="Zero tolerance: every row here also raised LastmileExtraFeeRemoteVillage.",
        transformations=[
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True}, "renameByName": {"Value": "fees 7 d"}},
            }
        ],
    )
    b.panel(
        "timeseries",
        "投诉(按类别) / Complaints per day by category",
        [
            (
                f"sum by (category) (increase(lastmile_complaints_total{{{SEL_T}}}[1d]))",
                "{{category}}",
            )
        ],
        decimals=0,
    )
    return b


# ---------------------------------------------------------------------------------------
# 通达率与品牌融合 / Coverage and brand fusion
# ---------------------------------------------------------------------------------------
def coverage_and_fusion() -> Board:
    b = Board(
        "lastmile-coverage-brand-fusion",
        "通达率与品牌融合 / Coverage and brand fusion",
        "通达率: share of a town's villages with a delivery in the last 30 days (target 100 %). "
        "品牌融合: distinct courier brands scanning at the town centre in 30 days (standard >= 5).",
        [TOWN_VAR],
    )
    b.row("全县 / County")
    b.panel(
        "stat",
        "全县通达率 / County village coverage",
        [("job:lastmile_village_coverage:ratio", "")],
        w=6,
        h=4,
        unit="percentunit",
        decimals=1,
        thresholds=RED_BELOW_1,
    )
    b.panel(
        "stat",
        "未全覆盖乡镇 / Towns below 100 %",
        [("count(town:lastmile_village_coverage:ratio < 1) or vector(0)", "")],
        w=6,
        h=4,
        decimals=0,
        thresholds=[(None, "green"), (1, "red")],
    )
    b.panel(
        "stat",
        "品牌不足5家乡镇 / Towns with < 5 brands",
        [("count(town:lastmile_town_brands:max < 5) or vector(0)", "")],
        w=6,
        h=4,
        decimals=0,
        thresholds=[(None, "green"), (1, "orange")],
    )
    b.panel(
        "stat",
        "滞留超48小时 / Parcels stuck > 48 h",
        [("sum(tier_town:lastmile_stuck_parcels:sum) or vector(0)", "")],
        w=6,
        h=4,
        decimals=0,
        thresholds=[(None, "green"), (1, "orange"), (50, "red")],
    )
    b.row("乡镇 / Towns")
    b.panel(
        "bargauge",
        "通达率(按乡镇) / Village coverage by town",
        [(with_town_name(f"town:lastmile_village_coverage:ratio{{{SEL_T}}}"), "{{name}} {{town}}")],
        instant=True,
        unit="percentunit",
        decimals=1,
        minmax=(0, 1),
        thresholds=RED_BELOW_1,
        options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
    )
    b.panel(
        "bargauge",
        "品牌融合(按乡镇) / Brands at the town centre (30 d)",
        [(with_town_name(f"town:lastmile_town_brands:max{{{SEL_T}}}"), "{{name}} {{town}}")],
        instant=True,
        decimals=0,
        minmax=(0, 8),
        thresholds=[(None, "red"), (5, "green")],
        options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True},
    )
    b.panel(
        "table",
        "乡镇明细 / Town detail",
        [
            (f"town:lastmile_villages:max{{{SEL_T}}}", ""),
            (f"town:lastmile_villages_reached:max{{{SEL_T}}}", ""),
            (f"town:lastmile_village_coverage:ratio{{{SEL_T}}}", ""),
            (f"town:lastmile_town_brands:max{{{SEL_T}}}", ""),
            (f"town_name:lastmile_town_info:max{{{SEL_T}}}", ""),
        ],
        w=24,
        h=10,
        instant=True,
        table=True,
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "Value #E": True},
                    "renameByName": {
                        "town": "乡镇代码 / Town code",
                        "name": "乡镇 / Town",
                        "Value #A": "行政村 / Villages",
                        "Value #B": "已通达 / Reached (30 d)",
                        "Value #C": "通达率 / Coverage",
                        "Value #D": "品牌数 / Brands",
                    },
                },
            },
        ],
    )
    b.panel(
        "timeseries",
        "通达率趋势 / Village coverage over time",
        [(with_town_name(f"town:lastmile_village_coverage:ratio{{{SEL_T}}}"), "{{name}} {{town}}")],
        unit="percentunit",
        minmax=(0, 1),
    )
    b.panel(
        "timeseries",
        "滞留包裹(按层级) / Parcels stuck > 48 h by tier",
        [(f"sum by (tier) (tier_town:lastmile_stuck_parcels:sum{{{SEL_T}}})", "{{tier}}")],
        decimals=0,
    )
    b.panel(
        "timeseries",
        "各层级停留时间P90 / Dwell time p90 by tier (24 h)",
        [("tier:lastmile_dwell_seconds:p90_rate1d / 3600", "{{tier}}")],
        unit="h",
    )
    b.panel(
        "timeseries",
        "偏远村妥投量 / Deliveries per day, remote vs other villages",
        [
            (
                f"sum by (remote) (increase(lastmile_deliveries_total{{{SEL_T}}}[1d]))",
                "remote={{remote}}",
            )
        ],
        decimals=0,
    )
    return b


# ---------------------------------------------------------------------------------------
# 农产品上行与数据质量 / Outbound produce and data quality (contract §7)
# ---------------------------------------------------------------------------------------
def produce_and_data_quality() -> Board:
    b = Board(
        "lastmile-produce-data-quality",
        "农产品上行与数据质量 / Outbound produce and data quality",
        "农产品上行: farm produce sent from village points out of the county (first-mile time, "
        "perishable parcels stalled > 12 h, share out within 24 h). 数据质量: what a regulator "
        "checks before trusting a count (silent village points, sign-offs without GPS, device "
        "clocks ahead, producer retries, invalid messages).",
        [TOWN_VAR, CARRIER_VAR],
    )
    hbar = {"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True}

    def town_bars(title: str, rule: str, **kw: Any) -> None:
        """One bar per town (with its Chinese name) of a per-town recording rule, now."""
        series = with_town_name(f"{rule}{{{SEL_T}}}")
        b.panel(
            "bargauge", title, [(series, "{{name}} {{town}}")], instant=True, options=hbar, **kw
        )

    b.row("农产品上行 / Outbound farm produce")
    for title, rule, alarm in (
        ("滞留生鲜(全县) / Perishable parcels stalled now", "perishable_stalled_parcels", "red"),
        (
            "曾滞留生鲜 / Perishable parcels that ever stalled",
            "perishable_stalled_ever_parcels",
            "orange",
        ),
        ("上行包裹 / Outbound produce parcels", "outbound_parcels", None),
        ("其中生鲜 / Of them perishable", "outbound_perishable_parcels", None),
    ):
        b.panel(
            "stat",
            title,
            [(f"sum(town:lastmile_{rule}:max{{{SEL_T}}}) or vector(0)", "")],
            w=6,
            h=4,
            decimals=0,
            thresholds=[(None, "green"), (1, alarm)] if alarm else None,
        )
    town_bars(
        "滞留生鲜(按乡镇) / Perishable stalled > 12 h by town",
        "town:lastmile_perishable_stalled_parcels:max",
        decimals=0,
        thresholds=[(None, "green"), (1, "red")],
    )
    town_bars(
        "24小时内出县率 / Perishable out of the county within 24 h",
        "town:lastmile_perishable_out_within_target:ratio",
        unit="percentunit",
        decimals=1,
        minmax=(0, 1),
        thresholds=[(None, "red"), (0.9, "orange"), (0.98, "green")],
    )
    b.panel(
        "timeseries",
        "首公里时间 / First-mile time (collection to leaving the county)",
        [
            (f"town:lastmile_first_mile_median_seconds:max{{{SEL_T}}} / 3600", "p50 {{town}}"),
            (f"town:lastmile_first_mile_p90_seconds:max{{{SEL_T}}} / 3600", "p90 {{town}}"),
        ],
        unit="h",
    )
    b.row("数据质量 / Data quality")
    b.panel(
        "stat",
        "一周无扫描网点(全县) / Village points silent for 7 days",
        [(f"sum(town:lastmile_silent_village_points:max{{{SEL_T}}}) or vector(0)", "")],
        w=6,
        decimals=0,
        thresholds=[(None, "green"), (1, "orange")],
    )
    town_bars(
        "无扫描网点(按乡镇) / Silent points by town",
        "town:lastmile_silent_village_points:max",
        decimals=0,
        thresholds=[(None, "green"), (1, "orange")],
        w=18,
    )
    b.panel(
        "timeseries",
        "签收无定位占比 / Sign-offs without GPS (24 h)",
        [
            (
                f"carrier:lastmile_signoffs_without_location:ratio_increase1d{{{SEL_C}}}",
                "{{carrier}}",
            )
        ],
        unit="percentunit",
        minmax=(0, 1),
    )
    b.panel(
        "timeseries",
        "时钟超前占比 / Scans dated ahead of processing (1 h)",
        [(f"carrier:lastmile_scans_clock_skewed:ratio_increase1h{{{SEL_C}}}", "{{carrier}}")],
        unit="percentunit",
    )
    b.panel(
        "timeseries",
        "重复事件 / Repeated event ids (producer retries, 24 h)",
        [(f"carrier:lastmile_repeated_events:increase1d{{{SEL_C}}}", "{{carrier}}")],
        decimals=0,
    )
    b.panel(
        "timeseries",
        "无效消息(按品牌) / Invalid messages by carrier and reason (24 h)",
        [
            (
                f"carrier_reason:lastmile_invalid_scans_by_carrier:increase1d{{{SEL_C}}}",
                "{{carrier}} {{reason}}",
            )
        ],
        decimals=0,
    )
    return b


# ---------------------------------------------------------------------------------------
# 流水线健康 / Pipeline health
# ---------------------------------------------------------------------------------------
def pipeline_health() -> Board:
    sel_i = 'job="lastmile-worker", instance=~"$instance"'
    b = Board(
        "lastmile-pipeline-health",
        "流水线健康 / Pipeline health",
        "Kafka -> faust workers -> metrics: workers up, throughput, dead letters, lag.",
        [INSTANCE_VAR],
    )
    b.row("概况 / Summary")
    b.panel(
        "stat",
        "在线节点 / Workers up",
        [
            ('sum(up{job="lastmile-worker"}) or vector(0)', "up"),
            ('count(up{job="lastmile-worker"}) or vector(0)', "targets"),
        ],
        w=6,
        h=4,
        decimals=0,
    )
    b.panel(
        "stat",
        "处理速率 / Events per second",
        [("sum(job_topic:lastmile_events_processed:rate5m)", "")],
        w=6,
        h=4,
        unit="ops",
        decimals=1,
    )
    b.panel(
        "stat",
        "最新事件距今 / Age of the newest event",
        [("job:lastmile_last_event_age_seconds:min", "")],
        w=6,
        h=4,
        unit="s",
        thresholds=[(None, "green"), (600, "orange"), (3600, "red")],
    )
    b.panel(
        "stat",
        "消费积压 / Consumer lag (messages)",
        [("sum(job_topic:lastmile_consumer_lag_messages:sum) or vector(0)", "")],
        w=6,
        h=4,
        decimals=0,
        thresholds=[(None, "green"), (1000, "orange"), (10000, "red")],
    )
    b.row("吞吐 / Throughput")
    b.panel(
        "timeseries",
        "处理速率(按节点与主题) / Events processed per second",
        [
            (
                f"sum by (instance, topic) (rate(lastmile_events_processed_total{{{sel_i}}}{RI}))",
                "{{instance}} {{topic}}",
            )
        ],
        unit="ops",
    )
    b.panel(
        "timeseries",
        "扫描事件(按层级) / Scan events per second by tier and type",
        [
            (
                f"sum by (tier, type) (rate(lastmile_scan_events_total{{{sel_i}}}{RI}))",
                "{{tier}} {{type}}",
            )
        ],
        unit="ops",
    )
    b.panel(
        "timeseries",
        "死信(按原因) / Dead-lettered messages per second by reason",
        [
            (
                f"sum by (topic, reason) (rate(lastmile_invalid_messages_total{{{sel_i}}}{RI}))",
                "{{topic}} {{reason}}",
            )
        ],
        unit="ops",
    )
    b.panel(
        "timeseries",
        "死信率 / Dead-letter share",
        [("job_topic:lastmile_invalid_messages:ratio_rate5m", "{{topic}}")],
        unit="percentunit",
        thresholds=[(None, "green"), (0.01, "red")],
        options={"legend": {"displayMode": "list", "placement": "bottom"}},
    )
    b.row("延迟 / Latency and lag")
    b.panel(
        "timeseries",
        "处理延迟 / Processing lag p50 / p95 (event time -> processed)",
        [
            ("job:lastmile_processing_lag_seconds:p50_rate5m", "p50"),
            ("job:lastmile_processing_lag_seconds:p95_rate5m", "p95"),
        ],
        unit="s",
    )
    b.panel(
        "heatmap",
        "处理延迟分布 / Processing lag distribution",
        [
            (
                f"sum by (le) (increase(lastmile_processing_lag_seconds_bucket{{{sel_i}}}{RI}))",
                "{{le}}",
            )
        ],
        unit="s",
        options={
            "calculate": False,
            "yAxis": {"unit": "s"},
            "cellGap": 1,
            "color": {"scheme": "Oranges", "mode": "scheme"},
        },
    )
    b.panel(
        "timeseries",
        "消费积压(按节点) / Consumer lag by worker and topic",
        [
            (
                f"sum by (instance, topic) (lastmile_consumer_lag_messages{{{sel_i}}})",
                "{{instance}} {{topic}}",
            )
        ],
        decimals=0,
    )
    b.panel(
        "timeseries",
        "Redis 可达 / Redis reachable from each worker (1 = yes)",
        [
            (f"min by (instance) (lastmile_redis_up{{{sel_i}}})", "{{instance}}"),
            (
                f"sum by (instance, operation) (rate(lastmile_redis_errors_total{{{sel_i}}}{RI}))",
                "{{instance}} errors/s {{operation}}",
            ),
        ],
        decimals=2,
    )
    b.panel(
        "timeseries",
        "健康检查 / Worker health checks (1 = passing; /healthz is 503 while one fails)",
        [
            (
                f"min by (instance, check) (lastmile_health_check{{{sel_i}}})",
                "{{instance}} {{check}}",
            ),
            (f"min by (instance) (lastmile_kafka_up{{{sel_i}}})", "{{instance}} kafka up"),
            (
                f"max by (instance) (lastmile_violation_log_behind_messages{{{sel_i}}})",
                "{{instance}} violation log behind (records)",
            ),
        ],
        decimals=0,
    )
    b.panel(
        "timeseries",
        "批次耗时 / Batch steps, p90 (finish ≫ begin: waiting on Kafka or Redis, not CPU)",
        [
            (
                "histogram_quantile(0.9, sum by (le, step) "
                f"(rate(lastmile_batch_seconds_bucket{{{sel_i}}}{RI})))",
                "{{step}}",
            ),
            (
                "histogram_quantile(0.9, sum by (le) "
                f"(rate(lastmile_event_loop_lag_seconds_bucket{{{sel_i}}}{RI})))",
                "event loop lag",
            ),
        ],
        unit="s",
        decimals=3,
    )
    b.panel(
        "timeseries",
        "批次与状态 / Messages per batch, parcels in state, RocksDB memory",
        [
            (
                f"sum by (instance) (rate(lastmile_batch_events_sum{{{sel_i}}}{RI})) / "
                f"sum by (instance) (rate(lastmile_batch_events_count{{{sel_i}}}{RI}))",
                "{{instance}} messages per batch",
            ),
            (f"sum by (instance) (lastmile_state_parcels{{{sel_i}}})", "{{instance}} parcels"),
            (
                f"max by (instance) (lastmile_rocksdb_memory_bytes{{{sel_i}}}) / 1048576",
                "{{instance}} RocksDB MiB",
            ),
        ],
        decimals=0,
    )
    b.panel(
        "table",
        "告警 / Firing alerts",
        [('ALERTS{alertstate="firing", alertname=~"Lastmile.*"}', "")],
        instant=True,
        table=True,
        transformations=[
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True, "Value": True, "__name__": True}},
            }
        ],
    )
    return b


BOARDS = {
    "lastmile-regulator-overview.json": regulator_overview,
    "lastmile-violations-by-rule.json": violations_by_rule,
    "lastmile-coverage-brand-fusion.json": coverage_and_fusion,
    "lastmile-produce-data-quality.json": produce_and_data_quality,
    "lastmile-pipeline-health.json": pipeline_health,
}


def render() -> dict[str, str]:
    return {
        name: json.dumps(build().to_json(), ensure_ascii=False, indent=2) + "\n"
        for name, build in BOARDS.items()
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        path = OUT_DIR / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("out of date (run python3 deploy/grafana/generate.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
