"""Integration fixtures: the real local stack (Kafka KRaft, Redis, Prometheus).

Start it with `make up` (or let `make test` / deploy/local/with-stack.sh do it). Each fixture
checks that its service answers and FAILS the test otherwise: an integration run without the
stack is an error, never a silent skip. Every test in this folder gets the `integration` mark.
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

HERE = Path(__file__).resolve().parent
START_HINT = "start the stack with `make up` (deploy/local/stack.sh up), then rerun"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)


def _tcp_reachable(host: str, port: int, timeout: float = 3.0) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """`host:port[,host:port...]` of the Kafka broker (env LASTMILE_KAFKA_BOOTSTRAP)."""
    bootstrap = os.environ.get("LASTMILE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    err = _tcp_reachable(host or "127.0.0.1", int(port))
    if err:
        pytest.fail(f"Kafka is not reachable at {bootstrap} ({err}); {START_HINT}", pytrace=False)
    return bootstrap


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis URL (env LASTMILE_REDIS_URL), answering PING."""
    url = os.environ.get("LASTMILE_REDIS_URL", "redis://127.0.0.1:6379/0")
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    try:
        with socket.create_connection((host, port), timeout=3.0) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        pytest.fail(f"Redis is not reachable at {url} ({exc}); {START_HINT}", pytrace=False)
    if not reply.startswith(b"+PONG"):
        pytest.fail(f"Redis at {url} answered PING with {reply!r}; {START_HINT}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def prometheus_url() -> str:
    """Base URL of Prometheus (env LASTMILE_PROMETHEUS_URL, else the stack's own
    127.0.0.1:LASTMILE_PROMETHEUS_PORT), ready to serve."""
    port = os.environ.get("LASTMILE_PROMETHEUS_PORT", "9090")
    url = os.environ.get("LASTMILE_PROMETHEUS_URL", f"http://127.0.0.1:{port}").rstrip("/")
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=5) as resp:
            status = resp.status
    except (urllib.error.URLError, OSError) as exc:
        pytest.fail(f"Prometheus is not reachable at {url} ({exc}); {START_HINT}", pytrace=False)
    if status != 200:
        pytest.fail(
            f"Prometheus at {url} is not ready (HTTP {status}); {START_HINT}", pytrace=False
        )
    return url


@pytest.fixture
def own_stack(tmp_path):
    """A Kafka + Redis + Prometheus stack of the test's own (fault tests stop its parts)."""
    from faultkit import OwnStack

    stack = OwnStack(tmp_path / "stack")
    stack.stack("up")
    yield stack
    stack.stack("clean")


@pytest.fixture
def cut_off_stack(tmp_path):
    """An own stack also reachable from a network namespace the test can cut off
    (fault_runs.py): (stack, namespace, the namespace's bootstrap)."""
    from fault_runs import cut_off_stack

    yield from cut_off_stack(tmp_path)
