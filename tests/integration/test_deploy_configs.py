"""Checks of the monitoring deployment: Prometheus, Alertmanager, Grafana, docs/metrics.md.

Runs the real tools (no server needed):
  promtool check config / check rules / test rules, amtool check-config / config routes test.
The tools come from Debian's prometheus and prometheus-alertmanager packages; a missing tool
is a failure (run deploy/local/install.sh), never a skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
PROM_TESTS = PROM / "tests"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
METRICS_DOC = ROOT / "docs" / "metrics.md"
RUNBOOKS_DOC = ROOT / "docs" / "runbooks.md"

RULE_FILES = sorted(p for p in PROM.glob("*.yml") if re.search(r"rules|alerts", p.name))
UNIT_TEST_FILES = sorted(PROM_TESTS.glob("*test*.yml"))
DASHBOARD_FILES = sorted(DASHBOARDS.glob("*.json"))

CARRIERS = ["EMS", "SF", "ZTO", "YTO", "STO", "YUNDA", "JT", "JD"]
# Labels that would make a series per parcel / courier / village: never allowed.
FORBIDDEN_LABELS = {
    "parcel",
    "parcel_id",
    "waybill",
    "waybill_no",
    "courier",
    "courier_id",
    "village",
    "village_id",
    "village_code",
    "point_id",
}
# Grafana macros and template variables -> something promtool can parse.
GRAFANA_SUBSTITUTIONS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1d",
}
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: run deploy/local/install.sh "
            "(Debian packages prometheus -> promtool, prometheus-alertmanager -> amtool)",
            pytrace=False,
        )
    return path


def run(cmd: list[str], *, cwd: Path | None = None, timeout: int = 600) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{out}", pytrace=False)
    return out


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    out = []
    for path in RULE_FILES:
        for group in load_yaml(path)["groups"]:
            out.extend(group["rules"])
    return out


def recording_rules() -> dict[str, str]:
    return {r["record"]: r["expr"] for r in rules() if "record" in r}


def alert_rules() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for r in rules() if "alert" in r}


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in DASHBOARD_FILES}


def iter_panels(panels: list[dict[str, Any]]):
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def variable_query(var: dict[str, Any]) -> str:
    q = var.get("query", "")
    return q.get("query", "") if isinstance(q, dict) else q


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target, annotation and query variable."""
    found: list[tuple[str, str]] = []
    for name, dash in dashboards().items():
        for panel in iter_panels(dash.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((f"{name}: panel {panel['title']!r}", target["expr"]))
        for ann in dash.get("annotations", {}).get("list", []):
            if ann.get("expr"):
                found.append((f"{name}: annotation {ann['name']!r}", ann["expr"]))
        for var in dash.get("templating", {}).get("list", []):
            if var.get("type") != "query":
                continue
            q = variable_query(var)
            m = re.fullmatch(r"\s*label_values\((.+),\s*\w+\)\s*", q) or re.fullmatch(
                r"\s*query_result\((.+)\)\s*", q
            )
            assert m, f"{name}: variable {var['name']}: unsupported query {q!r}"
            found.append((f"{name}: variable ${var['name']}", m.group(1)))
    return found


def grafana_to_promql(expr: str, variables: set[str]) -> str:
    for macro, value in GRAFANA_SUBSTITUTIONS.items():
        expr = expr.replace(macro, value)
    for var in sorted(variables, key=len, reverse=True):
        expr = expr.replace("${" + var + "}", ".*").replace("$" + var, ".*")
    return expr


def all_variables() -> set[str]:
    return {v["name"] for d in dashboards().values() for v in d["templating"]["list"]}


def documented_metrics() -> dict[str, str]:
    """name -> type, from the first table of docs/metrics.md whose first cell is a metric."""
    table: dict[str, str] = {}
    for line in METRICS_DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(
            r"^\|\s*`([a-zA-Z_][a-zA-Z0-9_]*)`\s*\|\s*(counter|gauge|histogram)\s*\|", line
        )
        if m:
            table[m.group(1)] = m.group(2)
    return table


def raw_metric_names(expr: str) -> set[str]:
    """Scraped metric names an expression reads (recording-rule names excluded)."""
    names = set(re.findall(r"(?<![\w:])(lastmile_[a-z0-9_]+)(?![\w:])", expr))
    if re.search(r"(?<![\w:])up\s*\{", expr):
        names.add("up")
    return names


def recorded_names_used(expr: str) -> set[str]:
    return set(re.findall(r"(?<![\w:])([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)", expr))


def base_metric(name: str, documented: dict[str, str]) -> str:
    for suffix in ("_bucket", "_count", "_sum"):
        base = name.removesuffix(suffix)
        if base != name and documented.get(base) == "histogram":
            return base
    return name


def github_anchor(heading: str) -> str:
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


# ---------------------------------------------------------------------------------------
# layout and naming
# ---------------------------------------------------------------------------------------
def test_file_naming_convention() -> None:
    assert (PROM / "prometheus.yml").is_file()
    assert RULE_FILES, "no *rules*.yml / *alerts*.yml in deploy/prometheus"
    assert any("rules" in p.name for p in RULE_FILES)
    assert any("alerts" in p.name for p in RULE_FILES)
    for path in PROM.glob("*.y*ml"):
        assert path.suffix == ".yml", f"{path.name}: use the .yml extension"
        assert path.name == "prometheus.yml" or path in RULE_FILES, (
            f"{path.name}: rule files must be named *rules*.yml or *alerts*.yml"
        )
    assert UNIT_TEST_FILES, "no promtool unit tests (deploy/prometheus/tests/*test*.yml)"
    for path in PROM_TESTS.iterdir():
        assert re.fullmatch(r".*test.*\.yml", path.name), f"tests/{path.name}: name it *test*.yml"
    assert DASHBOARD_FILES, "no dashboards in deploy/grafana/dashboards"
    for path in DASHBOARD_FILES:
        assert re.fullmatch(r"lastmile-[a-z0-9-]+\.json", path.name), path.name


def test_prometheus_config_is_valid() -> None:
    out = run([tool("promtool"), "check", "config", str(PROM / "prometheus.yml")])
    assert "WARNING" not in out, out
    config = load_yaml(PROM / "prometheus.yml")
    assert set(config["rule_files"]) == {p.name for p in RULE_FILES}
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    worker = jobs["lastmile-worker"]
    assert worker["static_configs"][0]["targets"], "static targets for the workers"
    assert worker["file_sd_configs"], "file_sd example for the workers"


def test_file_sd_example_is_valid(tmp_path: Path) -> None:
    """promtool also validates file_sd target files: load the example in place."""
    for path in [PROM / "prometheus.yml", *RULE_FILES]:
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(PROM / "targets", tmp_path / "targets")
    example = PROM / "targets" / "lastmile-workers.yml.example"
    shutil.copy(example, tmp_path / "targets" / "lastmile-workers-production.yml")
    run([tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml")])
    groups = load_yaml(example)
    targets = [t for g in groups for t in g["targets"]]
    assert len(targets) >= 2 and all(t.endswith(":6066") for t in targets), targets


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_file_is_valid(path: Path) -> None:
    run([tool("promtool"), "check", "rules", str(path)])


@pytest.mark.parametrize("path", UNIT_TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(path: Path) -> None:
    out = run([tool("promtool"), "test", "rules", path.name], cwd=path.parent)
    assert "SUCCESS" in out, out


# ---------------------------------------------------------------------------------------
# recording rules and alerts
# ---------------------------------------------------------------------------------------
def test_recording_rule_names_follow_convention() -> None:
    for name in recording_rules():
        assert re.fullmatch(r"[a-z_]+:lastmile_[a-z0-9_]+:[a-z0-9_]+", name), (
            f"{name}: use level:metric:operations"
        )


def test_alerts_have_labels_annotations_and_runbooks() -> None:
    runbook_text = RUNBOOKS_DOC.read_text(encoding="utf-8")
    anchors = {github_anchor(m.group(1)) for m in re.finditer(r"^#+\s+(.+)$", runbook_text, re.M)}
    alerts = alert_rules()
    assert len(alerts) >= 8
    for name, rule in alerts.items():
        labels, ann = rule.get("labels", {}), rule.get("annotations", {})
        assert labels.get("severity") in {"critical", "warning", "info"}, name
        assert labels.get("audience") in {"regulator", "carrier"}, name
        for key in ("summary", "description", "runbook"):
            assert ann.get(key), f"{name}: annotation {key} missing"
        m = re.fullmatch(r"docs/runbooks\.md#([\w-]+)", ann["runbook"])
        assert m, f"{name}: runbook must link docs/runbooks.md#anchor"
        assert m.group(1) in anchors, f"{name}: no heading for #{m.group(1)} in docs/runbooks.md"
        if labels["audience"] == "carrier":
            assert "$labels.carrier" in ann["summary"], name


def test_carrier_alerts_keep_the_carrier_label() -> None:
    """Shown by the unit tests: every expected firing of a carrier alert has a carrier."""
    carrier_alerts = {n for n, r in alert_rules().items() if r["labels"]["audience"] == "carrier"}
    seen: set[str] = set()
    for path in UNIT_TEST_FILES:
        for case in load_yaml(path)["tests"]:
            for t in case.get("alert_rule_test", []):
                if t["alertname"] not in carrier_alerts:
                    continue
                for alert in t.get("exp_alerts") or []:
                    assert alert["exp_labels"].get("carrier") in CARRIERS, (path.name, t)
                    seen.add(t["alertname"])
    assert seen == carrier_alerts


def test_every_alert_is_tested_firing_and_silent() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in UNIT_TEST_FILES:
        for case in load_yaml(path)["tests"]:
            for t in case.get("alert_rule_test", []):
                (firing if t.get("exp_alerts") else silent).add(t["alertname"])
    for name in alert_rules():
        assert name in firing, f"{name}: no unit test shows it firing"
        assert name in silent, f"{name}: no unit test shows it staying silent"


def test_expressions_reference_defined_recording_rules() -> None:
    defined = set(recording_rules())
    exprs = [r["expr"] for r in rules()] + [e for _, e in dashboard_exprs()]
    for expr in exprs:
        missing = recorded_names_used(expr) - defined
        assert not missing, f"undefined recording rule(s) {missing} in: {expr}"


# ---------------------------------------------------------------------------------------
# Alertmanager
# ---------------------------------------------------------------------------------------
def test_alertmanager_config_is_valid() -> None:
    out = run([tool("amtool"), "check-config", str(ALERTMANAGER)])
    assert "SUCCESS" in out, out


ROUTES = [
    *[
        (
            ["audience=carrier", f"carrier={c}", "alertname=LastmileExtraFeeRemoteVillage"],
            f"carrier-{c.lower()},regulator",
        )
        for c in CARRIERS
    ],
    (["audience=carrier", "carrier=NEWBRAND"], "carrier-unrouted,regulator"),
    (["audience=regulator", "alertname=LastmileVillageCoverageIncomplete"], "regulator"),
    (["audience=regulator", "carrier=ZTO", "alertname=LastmileWorkerDown"], "regulator"),
    (["alertname=SomethingWithoutAudience"], "regulator"),
]


@pytest.mark.parametrize(
    ("labels", "receivers"), ROUTES, ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_alertmanager_routing(labels: list[str], receivers: str) -> None:
    out = run(
        [
            tool("amtool"),
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER}",
            f"--verify.receivers={receivers}",
            *labels,
        ]
    )
    assert receivers in out, out


def test_alertmanager_inhibits_lag_alerts_while_a_worker_is_down() -> None:
    config = load_yaml(ALERTMANAGER)
    alert_names = set(alert_rules())
    rules_ = config["inhibit_rules"]
    assert any(
        "LastmileWorkerDown" in " ".join(r["source_matchers"])
        and "LastmileConsumerLagHigh" in " ".join(r["target_matchers"])
        and "LastmileProcessingLagHigh" in " ".join(r["target_matchers"])
        for r in rules_
    )
    for r in rules_:
        for matcher in r["source_matchers"] + r["target_matchers"]:
            for name in re.findall(r"Lastmile\w+", matcher):
                assert name in alert_names, f"inhibit rule names unknown alert {name}"
    receivers = {r["name"] for r in config["receivers"]}
    assert {f"carrier-{c.lower()}" for c in CARRIERS} | {"regulator"} <= receivers


# ---------------------------------------------------------------------------------------
# Grafana
# ---------------------------------------------------------------------------------------
def test_dashboards_are_generated_from_generate_py() -> None:
    run([sys.executable, str(GRAFANA / "generate.py"), "--check"])


def test_dashboards_are_bilingual_and_consistent() -> None:
    uids = set()
    for name, dash in dashboards().items():
        title = dash["title"]
        assert CJK.search(title) and LATIN_WORD.search(title), f"{name}: title {title!r}"
        assert dash["uid"] not in uids and len(dash["uid"]) <= 40
        uids.add(dash["uid"])
        for panel in iter_panels(dash["panels"]):
            if panel["type"] == "row":
                continue
            assert CJK.search(panel["title"]) and LATIN_WORD.search(panel["title"]), (
                f"{name}: panel title {panel['title']!r} needs Chinese and English"
            )
            assert panel["datasource"]["uid"] == "lastmile-prom", f"{name}: {panel['title']}"
            assert panel["targets"], f"{name}: {panel['title']} has no query"
    titles = " ".join(d["title"] for d in dashboards().values())
    for expected in ("监管总览", "违规明细", "通达率与品牌融合", "流水线健康"):
        assert expected in titles


def test_quality_dashboards_have_carrier_and_town_variables() -> None:
    for name, dash in dashboards().items():
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        if "pipeline" in name:
            continue
        assert "town" in variables, name
        assert "town" in variable_query(variables["town"])
        if "coverage" not in name:  # coverage and brand fusion are per town, not per carrier
            assert variable_query(variables["carrier"]).startswith("label_values(")


def test_dashboard_promql_parses(tmp_path: Path) -> None:
    """No Prometheus server here: wrap every query in a recording rule and promtool it."""
    variables = all_variables()
    exprs = sorted({grafana_to_promql(e, variables) for _, e in dashboard_exprs()})
    assert len(exprs) > 20
    leftover = [e for e in exprs if "$" in e]
    assert not leftover, f"unsubstituted Grafana variables: {leftover}"
    rule_file = tmp_path / "dashboards-rules.yml"
    rule_file.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "dashboard-queries",
                        "rules": [
                            {"record": f"dashboard:query_{i}:check", "expr": e}
                            for i, e in enumerate(exprs)
                        ],
                    }
                ]
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    run([tool("promtool"), "check", "rules", str(rule_file)])


def test_grafana_provisioning() -> None:
    ds = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = ds["datasources"]
    assert source["uid"] == "lastmile-prom"
    assert source["url"] == "http://127.0.0.1:9090"
    assert source["type"] == "prometheus"
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "lastmile.yml")
    (prov,) = provider["providers"]
    assert prov["type"] == "file" and prov["options"]["path"]


# ---------------------------------------------------------------------------------------
# docs/metrics.md cannot drift from the rules and dashboards
# ---------------------------------------------------------------------------------------
def test_every_referenced_metric_is_documented() -> None:
    documented = documented_metrics()
    assert len(documented) >= 19, f"metric table not found in {METRICS_DOC}"
    sources = [(f"rule {r.get('record') or r.get('alert')}", r["expr"]) for r in rules()]
    sources += dashboard_exprs()
    used: set[str] = set()
    for where, expr in sources:
        for name in raw_metric_names(expr):
            base = base_metric(name, documented)
            assert base in documented, f"{where}: {name} is not in the table of docs/metrics.md"
            used.add(base)
    unused = set(documented) - used
    assert not unused, f"documented but used by no rule or dashboard: {sorted(unused)}"


def test_recording_rules_and_alerts_are_documented() -> None:
    text = METRICS_DOC.read_text(encoding="utf-8")
    for name in [*recording_rules(), *alert_rules()]:
        assert f"`{name}`" in text, f"{name} is not described in docs/metrics.md"


def test_no_high_cardinality_labels() -> None:
    exprs = [r["expr"] for r in rules()] + [e for _, e in dashboard_exprs()]
    for expr in exprs:
        grouped = re.findall(r"\b(?:by|without|on|group_left|group_right)\s*\(([^)]*)\)", expr)
        matched = re.findall(r"[{,]\s*([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", expr)
        labels = {x.strip() for g in grouped for x in g.split(",") if x.strip()} | set(matched)
        assert not labels & FORBIDDEN_LABELS, f"high-cardinality label in: {expr}"
    doc = METRICS_DOC.read_text(encoding="utf-8")
    for line in doc.splitlines():
        if re.match(r"^\|\s*`lastmile_", line):
            labels_cell = line.split("|")[3]
            found = set(re.findall(r"`(\w+)`", labels_cell))
            assert not found & FORBIDDEN_LABELS, line
