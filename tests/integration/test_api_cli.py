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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "LASTMILE_REDIS_URL": redis_url,
        "LASTMILE_REDIS_PREFIX": prefix,
        "LASTMILE_API_PORT": str(port),
        "LASTMILE_API_METRICS_PORT": str(metrics_port),
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
        assert get(f"{base}/metrics")[0] == 404  # not on the API's port ...
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as m:
            assert b"lastmile_api_requests_total" in m.read()  # ... but on the internal one
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_keys_list_cannot_be_forged_by_a_label(redis_url: str, prefix: str) -> None:
    bad = CliRunner().invoke(
        app,
        ["keys", "issue", "--carrier", "ZTO", "--label", "x\nk_forged\tregulator"],
        env={"LASTMILE_REDIS_URL": redis_url, "LASTMILE_REDIS_PREFIX": prefix},
    )
    assert bad.exit_code == 2
    cli(redis_url, prefix, "keys", "issue", "--carrier", "ZTO", "--label", "ops")
    # a label written straight into Redis (older release) is escaped on output
    r = sync_redis.Redis.from_url(redis_url, decode_responses=True)
    (kid, raw), *_ = r.hgetall(f"{prefix}:api:keys").items()
    rec = json.loads(raw)
    rec["label"] = "x\nk_forged\tregulator"
    r.hset(f"{prefix}:api:keys", kid, json.dumps(rec))
    r.close()
    listing = cli(redis_url, prefix, "keys", "list")
    assert len(listing.splitlines()) == 1 and "k_forged" in listing


def test_the_regulator_lists_and_deletes_webhooks_from_the_cli(redis_url: str, prefix: str) -> None:
    r = sync_redis.Redis.from_url(redis_url, decode_responses=True)
    r.hset(
        f"{prefix}:api:wh:ZTO",
        mapping={
            "id": "wh_1",
            "url": "https://h.example.com/x",
            "secret": "whsec_s",
            "created_at": "2026-11-30T00:00:00Z",
        },
    )
    r.sadd(f"{prefix}:api:wh:carriers", "ZTO")
    listing = cli(redis_url, prefix, "webhooks", "list")
    assert listing.split("\t")[:3] == ["ZTO", "wh_1", "ok"] and "whsec_" not in listing
    assert "deleted" in cli(redis_url, prefix, "webhooks", "delete", "ZTO")
    assert not r.exists(f"{prefix}:api:wh:ZTO")
    gone = CliRunner().invoke(
        app,
        ["webhooks", "delete", "ZTO"],
        env={"LASTMILE_REDIS_URL": redis_url, "LASTMILE_REDIS_PREFIX": prefix},
    )
    assert gone.exit_code == 1 and "no webhook registration" in gone.output
    r.close()
