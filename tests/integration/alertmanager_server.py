"""A real Alertmanager (Debian's `prometheus-alertmanager` binary) of a test's own.

It loads a configuration derived from the repo's deploy/alertmanager/alertmanager.yml by
`for_test`: the routes, receivers and recipients stay as they are; only where messages go
(the SMTP relay, the WeCom API, each webhook's host) and the grouping timings change, so a
firing alert is delivered within seconds to the test's own sinks on 127.0.0.1.
Clustering is off (`--cluster.listen-address=`): nothing listens beyond loopback.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from alert_sinks import HttpSink
from server_process import log_tail, start_until_ready, stop
from workers import REPO, free_port

ALERTMANAGER_YML = REPO / "deploy" / "alertmanager" / "alertmanager.yml"


def repo_config() -> dict[str, Any]:
    return yaml.safe_load(ALERTMANAGER_YML.read_text(encoding="utf-8"))


def for_test(config: dict[str, Any], smtp_port: int, http: HttpSink) -> dict[str, Any]:
    """The repo's configuration pointed at the test's sinks, with 1 s grouping."""
    out = copy.deepcopy(config)
    out["global"]["smtp_smarthost"] = f"127.0.0.1:{smtp_port}"
    out["global"]["wechat_api_url"] = f"{http.base}/cgi-bin/"
    out["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    for receiver in out["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = http.hook_url(hook["url"])
    return out


def binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        if path := shutil.which(name):
            return path
    raise RuntimeError("no Alertmanager binary on PATH: run deploy/local/install.sh")


class AlertmanagerServer:
    def __init__(self, tmp: Path, config: dict[str, Any]) -> None:
        self.tmp = tmp
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "alertmanager.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> AlertmanagerServer:
        self.tmp.mkdir(parents=True, exist_ok=True)
        config = self.tmp / "alertmanager.yml"
        config.write_text(yaml.safe_dump(self.config, allow_unicode=True), encoding="utf-8")
        self.proc = start_until_ready(
            [
                binary(),
                f"--config.file={config}",
                f"--storage.path={self.tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            self.log,
            self.tmp,
            f"{self.url}/-/ready",
            timeout,
        )
        return self

    def stop(self) -> None:
        stop(self.proc)

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log, lines)
