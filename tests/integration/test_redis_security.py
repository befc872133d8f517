"""Issue 12, Redis: an ACL user over TLS, with a redis-server of its own (Debian's build has TLS).

The server has `user default off` and one ACL user `lastmile` limited to the deployment's
key patterns (docs/redis.md), and listens only on a TLS port with a CA made by openssl.
The CLI, the API and a real worker work with the user's password file and the CA; a wrong
password, no password, an untrusted certificate or a key prefix outside the user's
patterns stop them with what is wrong, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis
from workers import (
    REPO,
    Scenario,
    assert_each_fails_clearly,
    free_port,
    lastmile_cli,
    simulated_traffic,
)

from lastmile.readmodel.keys import Keys

PREFIX = "lmsec"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass
class SecuredRedis:
    port: int
    tls: Path
    password_file: Path

    @property
    def url(self) -> str:
        return f"rediss://lastmile@127.0.0.1:{self.port}/0"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "LASTMILE_REDIS_URL": self.url,
            "LASTMILE_REDIS_PASSWORD_FILE": str(self.password_file),
            "LASTMILE_REDIS_SSL_CAFILE": str(self.tls / "ca.pem"),
            "LASTMILE_REDIS_PREFIX": PREFIX,
        }
        env.update(overrides)
        return env

    def client(self) -> Redis:
        return Redis.from_url(
            self.url,
            password=self.password_file.read_text().strip(),
            ssl_ca_certs=str(self.tls / "ca.pem"),
        )


@pytest.fixture(scope="module")
def secured_redis(tmp_path_factory) -> SecuredRedis:
    d = tmp_path_factory.mktemp("secured-redis")
    tls = d / "tls"
    tls.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "30", "-subj", "/CN=lastmile test CA", cwd=tls)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "redis.key", "-out", "redis.csr",
            "-subj", "/CN=127.0.0.1", cwd=tls)  # fmt: skip
    (tls / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "redis.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "redis.pem", "-days", "30", "-extfile", "ext", cwd=tls)  # fmt: skip
    password = uuid.uuid4().hex
    password_file = d / "lastmile.password"
    password_file.write_text(password + "\n")
    port = free_port()
    conf = d / "redis.conf"
    # the ACL rule of docs/redis.md for the prefix of this test
    conf.write_text(
        f"""bind 127.0.0.1
port 0
tls-port {port}
tls-cert-file {tls / "redis.pem"}
tls-key-file {tls / "redis.key"}
tls-ca-cert-file {tls / "ca.pem"}
tls-auth-clients no
dir {d}
logfile {d / "redis.log"}
appendonly yes
user default off
user lastmile on >{password} ~{PREFIX}:* ~{{{PREFIX}:* +@all -@dangerous
"""
    )
    proc = subprocess.Popen(
        ["redis-server", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    server = SecuredRedis(port, tls, password_file)

    async def ping() -> bool:
        client = server.client()
        try:
            return bool(await client.ping())
        except Exception:
            return False
        finally:
            await client.aclose()

    deadline = time.monotonic() + 20
    while not asyncio.run(ping()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log = d / "redis.log"
            out = log.read_text() if log.exists() else ""
            raise RuntimeError(f"redis-server with TLS and ACLs did not start:\n{out}")
        time.sleep(0.2)
    yield server
    proc.terminate()
    proc.wait(timeout=20)


def test_cli_and_api_work_as_an_acl_user_over_tls(secured_redis, tmp_path):
    issued = lastmile_cli("keys", "issue", "--carrier", "ZTO", env=secured_redis.env())
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.split()[-1]
    assert key.startswith("lmk_")

    port, m_port = free_port(), free_port()
    log = open(tmp_path / "api.log", "wb")  # noqa: SIM115
    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lastmile.cli",
            "api",
            "--port",
            str(port),
            "--metrics-port",
            str(m_port),
        ],
        env={**os.environ, **secured_redis.env()},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/violations", headers={"Authorization": f"Bearer {key}"}
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as r:
                    assert r.status == 200
                    assert orjson.loads(r.read())["items"] == []
                    break
            except OSError:
                if api.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    finally:
        api.terminate()
        api.wait(timeout=30)
        log.close()


def test_a_worker_writes_its_read_models_as_an_acl_user_over_tls(
    secured_redis, kafka_bootstrap, tmp_path, tmp_path_factory
):
    traffic = simulated_traffic(tmp_path_factory.mktemp("traffic"), seed=21, parcels=400)
    expected = {
        orjson.loads(x)["violation_id"]
        for x in (traffic / "detected.jsonl").read_bytes().splitlines()
    }
    s = Scenario(kafka_bootstrap, secured_redis.url, tmp_path, hold_s=1.0)
    try:
        s.start_worker(**secured_redis.env())
        s.publish(traffic / "scans.jsonl", traffic / "complaints.jsonl")
        assert len(s.wait_for("violations.v1", len(expected), settle=0)) == len(expected)

        async def projected() -> int:
            client = secured_redis.client()
            try:
                return int(await client.hlen(Keys(PREFIX).violation_docs))
            finally:
                await client.aclose()

        deadline = time.monotonic() + 30
        while asyncio.run(projected()) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert asyncio.run(projected()) == len(expected)
    finally:
        s.stop_all()


def test_wrong_or_missing_credentials_and_an_untrusted_server_fail_clearly(
    secured_redis, kafka_bootstrap, tmp_path
):
    wrong = tmp_path / "wrong.password"
    wrong.write_text("nope\n")
    no_password = secured_redis.env()
    del no_password["LASTMILE_REDIS_PASSWORD_FILE"]
    no_ca = secured_redis.env()
    del no_ca["LASTMILE_REDIS_SSL_CAFILE"]
    bad = secured_redis.env(LASTMILE_REDIS_PASSWORD_FILE=str(wrong))
    worker_env = {"LASTMILE_KAFKA_BOOTSTRAP": kafka_bootstrap, "LASTMILE_STORE": "memory://"}

    def api() -> tuple[str, ...]:
        return ("api", "--port", str(free_port()), "--metrics-port", str(free_port()))

    cases = [
        (("keys", "issue", "--carrier", "ZTO"), bad, "invalid username-password pair"),
        (api(), bad, "refused the credentials"),
        (api(), no_password, "refused the credentials"),
        (api(), no_ca, "certificate verify failed"),
        (("worker",), {**bad, **worker_env}, "refused the credentials"),
        (
            ("keys", "issue", "--carrier", "ZTO"),
            secured_redis.env(LASTMILE_REDIS_PREFIX="other"),
            "NoPermissionError",
        ),
    ]
    for out in assert_each_fails_clearly(cases):
        assert secured_redis.password_file.read_text().strip() not in out
