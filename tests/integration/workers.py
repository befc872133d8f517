"""Run real `lastmile worker` processes against the local stack, isolated per test.

Each scenario gets its own Faust app id, topic prefix, Redis key prefix and data dir,
so tests never see each other's topics, consumer groups or read models.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from lastmile.io.kafka import read_topic

REPO = Path(__file__).resolve().parents[2]
NETWORK = REPO / "services" / "lastmile" / "data" / "yiyuan.network.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Scenario:
    kafka: str
    redis_url: str
    tmp: Path
    store: str = "memory://"
    hold_s: float = 5.0
    name: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"{self.name}."

    def env(self, web_port: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            LASTMILE_KAFKA_BOOTSTRAP=self.kafka,
            LASTMILE_REDIS_URL=self.redis_url,
            LASTMILE_NETWORK=str(NETWORK),
            LASTMILE_WEB_PORT=str(web_port),
            LASTMILE_STORE=self.store,
            LASTMILE_DATA_DIR=str(self.tmp / f"data-{web_port}"),
            LASTMILE_APP_ID=self.name,
            LASTMILE_TOPIC_PREFIX=self.prefix,
            LASTMILE_REDIS_PREFIX=self.name,
            LASTMILE_HOLD_S=str(self.hold_s),
        )
        return env

    def start_worker(
        self,
        web_port: int | None = None,
        argv: list[str] | None = None,
        wrap: tuple[str, ...] = (),
        host: str = "127.0.0.1",
        **extra_env: str,
    ) -> tuple[subprocess.Popen, int]:
        """`lastmile worker` (or `argv`, another command running the same app) on its own port;
        ``wrap`` runs it under a command (``ip netns exec NS``), and ``host`` is where its web
        server answers (``LASTMILE_WEB_HOST``)."""
        port = web_port or free_port()
        log = open(self.tmp / f"worker-{port}-{len(self.procs)}.log", "wb")  # noqa: SIM115
        if host != "127.0.0.1":
            extra_env = {"LASTMILE_WEB_HOST": host, **extra_env}
        proc = subprocess.Popen(
            [
                *wrap,
                *(
                    argv
                    or [sys.executable, "-m", "lastmile.cli", "worker", "--loglevel", "warning"]
                ),
            ],
            env={**self.env(port), **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        self.procs.append(proc)
        self.wait_ready(port, proc, host=host)
        return proc, port

    def wait_ready(
        self, port: int, proc: subprocess.Popen, timeout: float = 90, host: str = "127.0.0.1"
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}; see logs in {self.tmp}")
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=2) as r:
                    body = r.read()
            except urllib.error.HTTPError as exc:  # 503: ready, but something is unhealthy
                body = exc.read()
            except OSError:
                body = b'{"ready": false}'
            if orjson.loads(body)["ready"]:
                return
            time.sleep(0.5)
        raise TimeoutError(f"worker on {port} not ready in {timeout}s; logs in {self.tmp}")

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        proc.send_signal(sig)
        proc.wait(timeout=60)

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()

    def publish(self, scans: Path | None = None, complaints: Path | None = None) -> None:
        from lastmile.commands.publish import publish

        asyncio.run(
            publish(
                self.kafka,
                str(scans) if scans else None,
                str(complaints) if complaints else None,
                None,
                self.prefix,
            )
        )

    def records(self, topic: str) -> list:
        return asyncio.run(read_topic(self.kafka, self.prefix + topic))

    def violations(self) -> list[dict]:
        return [orjson.loads(r.value) for r in self.records("violations.v1")]

    def wait_for(self, topic: str, count: int, timeout: float = 120, settle: float = 3.0) -> list:
        """Wait until a topic holds `count` records, then a little longer to catch extras."""
        deadline = time.monotonic() + timeout
        recs: list = []
        while time.monotonic() < deadline:
            recs = self.records(topic)
            if len(recs) >= count:
                time.sleep(settle)
                return self.records(topic)
            time.sleep(1.0)
        return recs

    def metrics(self, port: int, host: str = "127.0.0.1") -> str:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as r:
            return r.read().decode()


def health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return r.status, orjson.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


def metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + " ", name + "{"))
    )


def split_lines(src: Path, dst_a: Path, dst_b: Path) -> None:
    lines = src.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    dst_a.write_bytes(b"".join(lines[:half]))
    dst_b.write_bytes(b"".join(lines[half:]))


def cli(*args: str) -> None:
    """Run a `lastmile` command; a failure raises with its output."""
    subprocess.run([sys.executable, "-m", "lastmile.cli", *args], check=True, capture_output=True)


def simulated_traffic(
    out: Path,
    seed: int,
    parcels: int = 1500,
    days: int = 1,
    faults: tuple[str, ...] = (),
    rates: dict[str, float] | None = None,
) -> Path:
    """Simulated Yiyuan days in `out` (optional data faults: simulate's options; `rates`
    overrides injection rates, `--rate RULE=FRACTION`), with `lastmile detect`'s answer
    (detected.jsonl, dlq.jsonl, indicators.json)."""
    cli(
        "simulate",
        "--network",
        str(NETWORK),
        "--days",
        str(days),
        "--parcels-per-day",
        str(parcels),
        "--seed",
        str(seed),
        "--out",
        str(out),
        *[a for rule, f in (rates or {}).items() for a in ("--rate", f"{rule}={f}")],
        *faults,
    )
    cli(
        "detect",
        "--network",
        str(NETWORK),
        "--scans",
        str(out / "scans.jsonl"),
        "--complaints",
        str(out / "complaints.jsonl"),
        "--out",
        str(out / "detected.jsonl"),
        "--dlq",
        str(out / "dlq.jsonl"),
        "--indicators",
        str(out / "indicators.json"),
    )
    return out


def lastmile_cli(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run `lastmile ARGS...` with extra environment variables; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "lastmile.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def assert_each_fails_clearly(
    cases: list[tuple[tuple[str, ...], dict[str, str], str]],
) -> list[str]:
    """Run each `lastmile ARGS` with its env at once (free web ports each); every one must
    exit non-zero saying its text, without a traceback. Returns their outputs."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "lastmile.cli", *args],
            env={
                **os.environ,
                **env,
                "LASTMILE_WEB_PORT": str(free_port()),
                "LASTMILE_ROUTER_WEB_PORT": str(free_port()),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )
        for args, env, _ in cases
    ]
    outputs = []
    for proc, (args, _, says) in zip(procs, cases, strict=True):
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode != 0, (args, out)
        assert says in out, (args, out)
        assert "Traceback" not in out, (args, out)
        outputs.append(out)
    return outputs
