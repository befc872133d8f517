"""`lastmile keys ...` and `lastmile api`: keys printed once, stored as hashes, revocable."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
import redis as sync_redis
from typer.testing import CliRunner

from lastmile.api.auth import KEY_RE, hash_key
from lastmile.cli import app


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    p = f"t{uuid.uuid4().hex[:12]}"
    yield p
    r = sync_redis.Redis.from_url(redis_url)
    keys = list(r.scan_iter(f"{p}:*"))
    if keys:
        r.delete(*keys)
    r.close()


def cli(redis_url: str, prefix: str, *args: str) -> str:
    env = {"LASTMILE_REDIS_URL": redis_url, "LASTMILE_REDIS_PREFIX": prefix}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def get(url: str, key: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_keys_issue_list_revoke(redis_url: str, prefix: str) -> None:
    out = cli(redis_url, prefix, "keys", "issue", "--carrier", "ZTO", "--label", "ops desk")
    key = out.split()[-1]
    assert KEY_RE.match(key)
    reg = cli(redis_url, prefix, "keys", "issue", "--regulator").split()[-1]
    assert KEY_RE.match(reg) and reg != key

    r = sync_redis.Redis.from_url(redis_url, decode_responses=True)
    stored = {k: r.dump(k) for k in r.scan_iter(f"{prefix}:*")}
    assert f"{prefix}:api:key:{hash_key(key)}" in stored
    assert not any(key.encode() in (v or b"") or key in k for k, v in stored.items())

    listing = cli(redis_url, prefix, "keys", "list")
    assert "ZTO" in listing and "regulator" in listing and key not in listing
    key_id = next(line.split("\t")[0] for line in listing.splitlines() if "\tZTO\t" in line)

    assert "revoked" in cli(redis_url, prefix, "keys", "revoke", key_id)
    assert r.get(f"{prefix}:api:key:{hash_key(key)}") is None
    relisted = cli(redis_url, prefix, "keys", "list").splitlines()
    assert "\trevoked " in next(line for line in relisted if line.startswith(key_id))
    assert "revoked" in cli(redis_url, prefix, "keys", "revoke", reg)  # by the key itself
    r.close()

    bad = CliRunner().invoke(app, ["keys", "issue"], env={"LASTMILE_REDIS_URL": redis_url})
    assert bad.exit_code == 2
    bad = CliRunner().invoke(
        app, ["keys", "issue", "--carrier", "A:B"], env={"LASTMILE_REDIS_URL": redis_url}
    )
    assert bad.exit_code == 2


def test_api_command_serves_on_loopback(redis_url: str, prefix: str) -> None:
    key = cli(redis_url, prefix, "keys", "issue", "--carrier", "ZTO").split()[-1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "LASTMILE_REDIS_URL": redis_url,
        "LASTMILE_REDIS_PREFIX": prefix,
        "LASTMILE_API_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "lastmile.cli", "api"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                status, body = get(f"{base}/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "lastmile api did not start"
                time.sleep(0.2)
        assert (status, body) == (200, {"status": "ok"})
        assert get(f"{base}/v1/violations", key) == (200, {"items": [], "next_cursor": None})
        assert get(f"{base}/v1/violations")[0] == 401
        status, doc = get(f"{base}/openapi.json")
        assert status == 200 and doc["openapi"].startswith("3.")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
