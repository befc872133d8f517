"""A real Prometheus server (Debian's `prometheus` binary) of a test's own.

It listens on a free 127.0.0.1 port, keeps its TSDB in the test's temp dir, scrapes the
given worker ports every second with the repo's own `lastmile-worker` job (its limits
included) and loads the repo's rule files. Rule groups are copied with their `interval`
removed, so every group (also the 5 m and 1 h ones) is evaluated every second: a test
cannot wait an hour for the 30-day group. Nothing else in the rules is changed. With
`alertmanager=host:port` it sends its alerts there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from server_process import log_tail, start_until_ready, stop
from workers import REPO, free_port

PROM_DIR = REPO / "deploy" / "prometheus"
JOB = "lastmile-worker"


def repo_rule_files() -> list[Path]:
    return sorted({*PROM_DIR.glob("*rules*.yml"), *PROM_DIR.glob("*alerts*.yml")})


class PromQLError(AssertionError):
    """Prometheus answered a query or an API call with an error (or a warning)."""


class PrometheusServer:
    def __init__(
        self,
        tmp: Path,
        targets: list[str],
        rule_files: list[Path] | None = None,
        interval: str = "1s",
        alertmanager: str | None = None,
    ) -> None:
        self.tmp = tmp
        self.targets = targets
        self.rule_files = repo_rule_files() if rule_files is None else rule_files
        self.interval = interval
        self.alertmanager = alertmanager  # host:port that firing alerts are sent to
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = tmp / "prometheus.log"

    # -- configuration ---------------------------------------------------------------
    def _copy_rules(self) -> list[str]:
        out_dir = self.tmp / "rules"
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for src in self.rule_files:
            doc = yaml.safe_load(src.read_text(encoding="utf-8"))
            for group in doc.get("groups", []):
                group.pop("interval", None)  # evaluation_interval (1 s) for every group
            dst = out_dir / src.name
            dst.write_text(
                yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
            )
            paths.append(str(dst))
        return paths

    def _scrape_job(self) -> dict[str, Any]:
        """The repo's lastmile-worker job, pointed at the test's workers, every second."""
        prod = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text(encoding="utf-8"))
        job = next(j for j in prod["scrape_configs"] if j["job_name"] == JOB)
        job = {k: v for k, v in job.items() if k not in ("file_sd_configs", "static_configs")}
        job.update(
            scrape_interval=self.interval,
            scrape_timeout=self.interval,
            static_configs=[{"targets": self.targets}],
        )
        return job

    def write_config(self) -> Path:
        config = {
            "global": {
                "scrape_interval": self.interval,
                "scrape_timeout": self.interval,
                "evaluation_interval": self.interval,
            },
            "rule_files": self._copy_rules(),
            "scrape_configs": [self._scrape_job()],
        }
        if self.alertmanager:
            config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": [self.alertmanager]}]}]
            }
        path = self.tmp / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path

    # -- process ---------------------------------------------------------------------
    def start(self, timeout: float = 30) -> PrometheusServer:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("no `prometheus` binary on PATH: run deploy/local/install.sh")
        config = self.write_config()
        self.proc = start_until_ready(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1d",
            ],
            self.log,
            self.tmp,
            f"{self.url}/-/ready",
            timeout,
        )
        return self

    def stop(self) -> None:
        stop(self.proc)

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log, lines)

    # -- HTTP API ------------------------------------------------------------------------
    def api(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        """GET /api/v1/<path>; returns `data`; raises PromQLError on an error or a warning."""
        query = urllib.parse.urlencode(params or [])
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as exc:  # 400 bad_data, 422 execution error, ...
            try:
                body = json.loads(exc.read())
            except ValueError:
                raise PromQLError(f"{path} {params}: HTTP {exc.code}") from exc
        if body.get("status") != "success":
            raise PromQLError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        if body.get("warnings"):
            raise PromQLError(f"{path} {params}: warnings {body['warnings']}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query at the server's now; the result as a list (scalars wrapped)."""
        data = self.api("query", [("query", expr)])
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def query_range(self, expr: str, seconds: float = 120, step: float = 5) -> list[Any]:
        end = time.time()
        data = self.api(
            "query_range",
            [
                ("query", expr),
                ("start", str(end - seconds)),
                ("end", str(end)),
                ("step", str(step)),
            ],
        )
        return data["result"]

    def value(self, expr: str) -> float | None:
        """The single value of an expression that yields at most one sample."""
        result = self.query(expr)
        if not result:
            return None
        assert len(result) == 1, f"{expr} gave {len(result)} series"
        return float(result[0]["value"][1])

    def wait_until(self, expr: str, ok: Any, timeout: float) -> float | None:
        """Poll `expr` (a single value) until ok(value) holds; the last value either way."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.value(expr)
            if value is not None and ok(value):
                break
            time.sleep(0.5)
        return value
