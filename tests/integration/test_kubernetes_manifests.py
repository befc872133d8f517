"""The Kubernetes manifests (deploy/kubernetes): rendered with the pinned kustomize (built by
deploy/kubernetes/install-kustomize.sh from the Go module proxy) and validated offline
against the Kubernetes API schemas of KUBERNETES_VERSION by the `kubernetes-validate`
package, strictly (an unknown field is an error).

The Prometheus Operator kinds (PodMonitor, PrometheusRule) are custom resources, which
those schemas do not cover; they are checked for what matters instead: the PrometheusRule
carries exactly the rule groups of deploy/prometheus, whose files are exactly those the
promtool unit tests load (test_deploy_configs.py runs them); each PodMonitor selects pods that exist
and names a port they expose. A missing kustomize is a failure, never a skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
PROM = ROOT / "deploy" / "prometheus"
NETWORK = ROOT / "services" / "lastmile" / "data" / "yiyuan.network.json"
KUBERNETES_VERSION = "1.33.0"  # the oldest release we state support for (docs/operations.md)
OPERATOR_KINDS = {"PodMonitor", "PrometheusRule"}


def kustomize() -> str:
    proc = subprocess.run(
        ["bash", str(K8S / "install-kustomize.sh")], capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        pytest.fail(f"no kustomize: {proc.stderr}", pytrace=False)
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of deploy/kubernetes with the files an operator adds: the examples under their
    real names and the Yiyuan network as the county's."""
    out = tmp_path_factory.mktemp("k8s") / "kubernetes"
    shutil.copytree(K8S, out)
    prod = out / "overlays" / "production"
    for example in (prod / "secrets").glob("*.example"):
        shutil.copy(example, example.with_suffix(""))
    shutil.copy(NETWORK, prod / "county" / "network.json")
    return out


def render(staged: Path, target: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [kustomize(), "build", str(staged / target)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module")
def base(staged: Path) -> list[dict[str, Any]]:
    return render(staged, "base")


@pytest.fixture(scope="module")
def production(staged: Path) -> list[dict[str, Any]]:
    return render(staged, "overlays/production")


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name)]
    assert len(found) == 1, (kind, name, [d["metadata"]["name"] for d in found])
    return found[0]


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, pod template metadata, pod spec) of every workload."""
    out = []
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            t = d["spec"]["template"]
        elif d["kind"] == "CronJob":
            t = d["spec"]["jobTemplate"]["spec"]["template"]
        else:
            continue
        out.append((d["metadata"]["name"], t["metadata"], t["spec"]))
    return out


# ---------------------------------------------------------------------------------------
# schema validation
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["base", "production"])
def test_every_manifest_validates_against_the_kubernetes_schemas(target, base, production):
    docs = base if target == "base" else production
    errors = {}
    for d in docs:
        if d["kind"] in OPERATOR_KINDS:
            continue
        try:
            kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors[f"{d['kind']}/{d['metadata']['name']}"] = f"{exc.path}: {exc.message}"
    assert not errors, errors
    kinds = {d["kind"] for d in docs}
    assert {"StatefulSet", "Deployment", "Service", "PodDisruptionBudget", "CronJob"} <= kinds
    assert kinds >= OPERATOR_KINDS


def test_the_validator_rejects_a_broken_manifest(base):
    """The check can fail: a misspelt field and a wrong type are both refused."""
    worker = one(base, "StatefulSet", "lastmile-worker")
    bad = yaml.safe_load(yaml.safe_dump(worker))
    bad["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)
    bad = yaml.safe_load(yaml.safe_dump(worker))
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


# ---------------------------------------------------------------------------------------
# the production overlay
# ---------------------------------------------------------------------------------------
def test_production_workers_keep_state_and_spread_over_nodes(production):
    worker = one(production, "StatefulSet", "lastmile-worker")
    spec = worker["spec"]["template"]["spec"]
    anti = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    (claim,) = worker["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    assert env["LASTMILE_DATA_DIR"]["value"].startswith(mounts[claim["metadata"]["name"]])
    assert env["LASTMILE_STORE"]["value"] == "rocksdb://"
    assert env["LASTMILE_WORKER_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    pdb = one(production, "PodDisruptionBudget", "lastmile-worker")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= (
        worker["spec"]["template"]["metadata"]["labels"].items()
    )
    assert all(
        d["metadata"].get("namespace") == "lastmile" for d in production if d["kind"] != "Namespace"
    )
    config = one(production, "ConfigMap", "lastmile-config")["data"]
    assert config["LASTMILE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["LASTMILE_TOPIC_REPLICATION_FACTOR"] == "3"
    assert config["LASTMILE_TOPIC_MIN_INSYNC_REPLICAS"] == "2"


def test_every_referenced_secret_and_config_map_is_rendered(production):
    """Generated names carry a content hash; kustomize must have rewritten every reference."""
    have = {(d["kind"], d["metadata"]["name"]) for d in production}
    wanted = set()
    for name, _meta, spec in pod_specs(production):
        for v in spec.get("volumes", []):
            if "secret" in v:
                wanted.add((name, "Secret", v["secret"]["secretName"]))
            if "configMap" in v:
                wanted.add((name, "ConfigMap", v["configMap"]["name"]))
            if "persistentVolumeClaim" in v:
                wanted.add((name, "PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]))
        for c in spec["containers"]:
            for src in c.get("envFrom", []):
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in src:
                        wanted.add((name, kind, src[key]["name"]))
            for e in c.get("env", []):
                if ref := e.get("valueFrom", {}).get("secretKeyRef"):
                    wanted.add((name, "Secret", ref["name"]))
    missing = {w for w in wanted if (w[1], w[2]) not in have}
    assert wanted and not missing, missing
    secret_names = {w[2] for w in wanted if w[1] == "Secret"}
    # generated with a content hash in the name: a rotated password rolls the pods using it
    unhashed = [n for n in secret_names if not re.fullmatch(r"lastmile-[a-z-]+-[a-z0-9]{10}", n)]
    assert len(secret_names) >= 5 and not unhashed, (secret_names, unhashed)


def test_the_review_runs_like_the_systemd_timer(production):
    cron = one(production, "CronJob", "lastmile-review")
    assert cron["spec"]["schedule"] == "0 6 1,16 * *"
    assert cron["spec"]["timeZone"] == "Asia/Shanghai"
    timer = (ROOT / "deploy" / "systemd" / "lastmile-review.timer").read_text(encoding="utf-8")
    assert "OnCalendar=*-*-01,16 06:00:00 Asia/Shanghai" in timer
    service = (ROOT / "deploy" / "systemd" / "lastmile-review.service").read_text(encoding="utf-8")
    exec_args = next(x for x in service.splitlines() if x.startswith("ExecStart=")).split()[1:]
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == exec_args


# ---------------------------------------------------------------------------------------
# Prometheus Operator resources
# ---------------------------------------------------------------------------------------
def repo_rule_groups() -> list[dict[str, Any]]:
    files = sorted({*PROM.glob("*rules*.yml"), *PROM.glob("*alerts*.yml")})
    return [g for f in files for g in yaml.safe_load(f.read_text(encoding="utf-8"))["groups"]]


def test_the_prometheus_rule_is_generated_from_deploy_prometheus():
    proc = subprocess.run(
        ["python3", str(K8S / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_prometheus_rule_carries_exactly_the_rules_promtool_tests(production, tmp_path):
    rule = one(production, "PrometheusRule", "lastmile")
    groups = rule["spec"]["groups"]
    assert groups == repo_rule_groups()
    # the rule files the promtool unit tests load are exactly the ones the PrometheusRule holds
    tests = sorted((PROM / "tests").glob("*test*.yml"))
    tested = {
        (PROM / "tests" / f).resolve()
        for t in tests
        for f in yaml.safe_load(t.read_text(encoding="utf-8"))["rule_files"]
    }
    assert tested == set(
        p.resolve() for p in {*PROM.glob("*rules*.yml"), *PROM.glob("*alerts*.yml")}
    )
    # promtool reads them as the PrometheusRule carries them (the unit tests themselves run
    # on the same groups in test_deploy_configs.py: equal above, so not run twice here)
    extracted = tmp_path / "from-prometheusrule.yml"
    extracted.write_text(yaml.safe_dump({"groups": groups}, allow_unicode=True), encoding="utf-8")
    promtool = shutil.which("promtool")
    assert promtool, "no promtool: run deploy/local/install.sh"
    proc = subprocess.run(
        [promtool, "check", "rules", str(extracted)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pod_monitors_select_pods_with_the_named_port(production):
    monitors = [d for d in production if d["kind"] == "PodMonitor"]
    jobs = set()
    for m in monitors:
        selector = m["spec"]["selector"]["matchLabels"]
        matched = [
            (name, spec)
            for name, meta, spec in pod_specs(production)
            if selector.items() <= meta["labels"].items()
        ]
        assert matched, f"PodMonitor {m['metadata']['name']} selects no pod"
        for endpoint in m["spec"]["podMetricsEndpoints"]:
            for name, spec in matched:
                ports = {p["name"] for c in spec["containers"] for p in c.get("ports", [])}
                assert endpoint["port"] in ports, (m["metadata"]["name"], name, ports)
        jobs.add(selector[m["spec"]["jobLabel"]])
    # the alerts select the workers by job="lastmile-worker"
    assert "lastmile-worker" in jobs
