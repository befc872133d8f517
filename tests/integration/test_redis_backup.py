"""`lastmile backup` / `lastmile restore`: what only Redis holds (the API's records) survives
a lost Redis: written to a private file, restored byte for byte with its expiry."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator

import orjson
import pytest
import redis as sync_redis
from typer.testing import CliRunner

from lastmile.cli import app
from lastmile.readmodel.keys import Keys


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    p = f"t{uuid.uuid4().hex[:12]}"
    yield p
    r = sync_redis.Redis.from_url(redis_url)
    for pattern in Keys(p).patterns():
        keys = list(r.scan_iter(pattern))
        if keys:
            r.delete(*keys)
    r.close()


def run(redis_url: str, prefix: str, *args: str):
    env = {"LASTMILE_REDIS_URL": redis_url, "LASTMILE_REDIS_PREFIX": prefix}
    return CliRunner().invoke(app, list(args), env=env)


def test_the_api_records_are_backed_up_and_restored(redis_url, prefix, tmp_path):
    assert run(redis_url, prefix, "keys", "issue", "--carrier", "ZTO").exit_code == 0
    keys = Keys(prefix)
    r = sync_redis.Redis.from_url(redis_url)
    r.hset(keys.case("V-1"), mapping={"state": "disputed", "note": "村口 delivered"})
    r.set(keys.webhook("ZTO", "cursor"), "1700000000000-0", ex=3600)
    r.hset(keys.violation_docs, "V-1", "{}")  # a projection: rebuilt from Kafka, not backed up
    r.hset(keys.rate_limit("k1"), "tokens", "3")  # transient: not backed up
    before = {k: r.dump(k) for k in r.scan_iter(keys.api_records)}
    before.pop(keys.rate_limit("k1").encode())

    out = tmp_path / "backup.jsonl"
    done = run(redis_url, prefix, "backup", "--out", str(out))
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # holds webhook secrets
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert lines[0]["prefix"] == prefix and len(lines) - 1 == len(before)

    r.delete(*before)  # Redis lost
    done = run(redis_url, prefix, "restore", "--in", str(out))
    assert done.exit_code == 0, done.output
    assert {k: r.dump(k) for k in before} == before
    assert 3500 < r.ttl(keys.webhook("ZTO", "cursor")) <= 3600

    again = run(redis_url, prefix, "restore", "--in", str(out))
    assert again.exit_code == 2 and "already exists; restore with --replace" in again.output
    assert run(redis_url, prefix, "restore", "--in", str(out), "--replace").exit_code == 0

    other = run(redis_url, f"{prefix}x", "restore", "--in", str(out))
    assert other.exit_code == 2 and "this deployment uses" in other.output
    (tmp_path / "junk").write_text("not json\n")
    junk = run(redis_url, prefix, "restore", "--in", str(tmp_path / "junk"))
    assert junk.exit_code == 2 and "not a backup file" in junk.output
    r.close()
