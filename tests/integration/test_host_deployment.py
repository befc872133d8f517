"""Deployment files outside Kubernetes: the systemd units, the container image definition and
the Grafana data sources. No server is needed.

- every unit in deploy/systemd passes `systemd-analyze verify` (unknown keys, bad values and
  a missing executable are all reported), with ExecStart pointed at this checkout's
  `lastmile`; and every lastmile subcommand the units and the Kubernetes manifests run is
  one the CLI has;
- the Containerfile runs `lastmile` as the non-root user the manifests expect, copies only
  what its ignore file lets into the build context, and exposes the ports the manifests use;
- Grafana provisions the Prometheus and the Alertmanager data sources.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "systemd"
K8S_BASE = ROOT / "deploy" / "kubernetes" / "base"
CONTAINERFILE = ROOT / "deploy" / "container" / "Containerfile"
LASTMILE = Path(sys.executable).with_name("lastmile")
INSTALLED_AT = "/opt/lastmile/.venv/bin/lastmile"


def units() -> list[Path]:
    return sorted(p for p in SYSTEMD.iterdir() if p.suffix in (".service", ".timer", ".target"))


def test_systemd_units_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    assert tool, "no systemd-analyze (Debian package systemd)"
    names = []
    for unit in units():
        text = unit.read_text(encoding="utf-8").replace(INSTALLED_AT, str(LASTMILE))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
        # a template is verified through an instance, as systemctl would start it
        names.append(unit.name.replace("@.", "@6066."))
    assert {"lastmile-worker@6066.service", "lastmile-api.service"} <= set(names)
    assert "lastmile-router.service" in names
    proc = subprocess.run(
        [tool, "verify", "--man=no", *[f"./{n}" for n in names]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and not out.strip(), out


def test_systemd_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key is reported."""
    text = (SYSTEMD / "lastmile-api.service").read_text(encoding="utf-8")
    text = text.replace(INSTALLED_AT, str(LASTMILE)).replace("Restart=", "Restrat=")
    (tmp_path / "lastmile-api.service").write_text(text, encoding="utf-8")
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "./lastmile-api.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Restrat" in proc.stdout + proc.stderr


def containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {})
    template = spec.get("jobTemplate", {}).get("spec", {}).get("template") or spec.get("template")
    return (template or {}).get("spec", {}).get("containers", [])


def commands_run() -> list[tuple[str, list[str]]]:
    """(where, the arguments after `lastmile`) of every systemd unit and Kubernetes workload."""
    found = []
    for unit in units():
        for m in re.finditer(r"^ExecStart=\S*/lastmile (.+)$", unit.read_text(), re.M):
            found.append((unit.name, m.group(1).split()))
    for path in K8S_BASE.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            for c in containers(doc):
                if c.get("image") == "lastmile":
                    found.append((f"{path.name}/{doc['metadata']['name']}", c["args"]))
    return found


def test_every_command_the_deployment_runs_exists_with_its_options() -> None:
    found = commands_run()
    assert {"worker", "api", "review", "router"} <= {args[0] for _, args in found}, found
    for where, args in found:
        cmd = args[0]
        proc = subprocess.run(
            [str(LASTMILE), cmd, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert proc.returncode == 0, (where, proc.stdout + proc.stderr)
        for option in (a for a in args[1:] if a.startswith("--")):
            assert re.search(rf"{re.escape(option)}\b", proc.stdout), (where, cmd, option)


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text(encoding="utf-8"))
    return [
        (m.group(1).upper(), m.group(2).strip())
        for m in re.finditer(r"^([A-Za-z]+)\s+(.*)$", text, re.M)
        if not m.group(0).startswith("#")
    ]


def test_the_container_image_runs_lastmile_as_the_manifests_user() -> None:
    ins = instructions()
    final = ins[max(i for i, (k, _) in enumerate(ins) if k == "FROM") :]
    assert ("ENTRYPOINT", '["lastmile"]') in final
    (user,) = [v for k, v in final if k == "USER"]
    uid = user.split(":")[0]
    assert uid != "0" and uid.isdigit()
    ports = {int(p) for k, v in final if k == "EXPOSE" for p in v.split()}
    for path in K8S_BASE.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            text = yaml.safe_dump(doc)
            for run_as in re.findall(r"runAsUser: (\d+)", text):
                assert run_as == uid, (path.name, run_as, uid)
            for port in re.findall(r"containerPort: (\d+)", text):
                assert int(port) in ports, (path.name, port, ports)


def test_the_build_context_holds_what_the_image_copies() -> None:
    ignore = (ROOT / ".containerignore").read_text(encoding="utf-8")
    assert (ROOT / ".dockerignore").read_text(encoding="utf-8") == ignore
    allowed = {line[1:].rstrip("/") for line in ignore.splitlines() if line.startswith("!")}
    for key, value in instructions():
        if key == "COPY" and "--from=" not in value:
            *sources, _dest = value.split()
            for src in sources:
                assert src.rstrip("/") in allowed, f"COPY {src}: not in .containerignore"
                assert (ROOT / src).exists(), src
    assert "pip install '.[rocksdb]'" in CONTAINERFILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "uid", "kind"),
    [
        ("prometheus.yml", "lastmile-prom", "prometheus"),
        ("alertmanager.yml", "lastmile-alertmanager", "alertmanager"),
    ],
)
def test_grafana_provisions_its_data_sources(file: str, uid: str, kind: str) -> None:
    path = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / file
    (source,) = yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]
    assert (source["uid"], source["type"]) == (uid, kind)
    assert source["url"].startswith("http://127.0.0.1:")
    if kind == "alertmanager":
        assert source["jsonData"]["implementation"] == "prometheus"
        prom = yaml.safe_load(
            (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
        )
        targets = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
        assert source["url"].removeprefix("http://") in targets
