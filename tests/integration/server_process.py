"""Start, wait for and stop a server binary of a test's own (Prometheus, Alertmanager)."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path


def log_tail(log: Path, lines: int = 30) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def start_until_ready(
    cmd: list[str], log: Path, cwd: Path, ready_url: str, timeout: float
) -> subprocess.Popen:
    """Run `cmd` (output to `log`) until GET `ready_url` answers 200; raise with the log's
    tail if it exits or is not ready in `timeout` seconds."""
    name = Path(cmd[0]).name
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log_tail(log)}")
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{name} not ready in {timeout}s:\n{log_tail(log)}")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
