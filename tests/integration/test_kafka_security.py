"""Issue 12 on a secured broker: SASL_SSL (SCRAM-SHA-512 over TLS) with StandardAuthorizer ACLs.

One broker of its own for this module (secure_broker.py; ~10 s to start). A real worker
and a real router run as User:lastmile; the router copies violations.v1 to
violations.v1.<CARRIER>; User:ZTO, given the ACLs `lastmile carrier-acls` prints, reads
its own feed and is refused another carrier's topic and violations.v1 by the broker. Bad
credentials and an untrusted certificate stop every command with what is wrong.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from secure_broker import CARRIER_USERS, SecureBroker, start_secure_broker
from workers import (
    REPO,
    Scenario,
    assert_each_fails_clearly,
    free_port,
    lastmile_cli,
    simulated_traffic,
)

from lastmile.io.kafka import read_topic


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> SecureBroker:
    b = start_secure_broker(tmp_path_factory.mktemp("secure-kafka"))
    yield b
    b.stack("clean")


@pytest.fixture(scope="module")
def traffic(tmp_path_factory) -> Path:
    return simulated_traffic(tmp_path_factory.mktemp("traffic"), seed=12, parcels=400)


async def consume_all(access, topic: str, group: str, expected: int, timeout_s: float = 60):
    """Read `topic` as a consumer group member until `expected` records came (or time is up)."""
    consumer = AIOKafkaConsumer(
        topic, group_id=group, auto_offset_reset="earliest", **access.client_kwargs()
    )
    await consumer.start()
    try:
        out = []
        deadline = time.monotonic() + timeout_s
        while len(out) < expected and time.monotonic() < deadline:
            for recs in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(recs)
        return out
    finally:
        await consumer.stop()


async def refused(access, topic: str, group: str) -> BaseException | None:
    """The error the broker answers when `access` subscribes to `topic` in `group`; None
    when it lets the read through."""
    consumer = AIOKafkaConsumer(
        topic, group_id=group, auto_offset_reset="earliest", **access.client_kwargs()
    )
    try:
        await consumer.start()  # the subscription's metadata is refused here already
        for _ in range(10):
            await consumer.getmany(timeout_ms=500)
        return None
    except TopicAuthorizationFailedError as exc:
        return exc
    finally:
        await consumer.stop()


async def by_hand(access, topic: str, wait_s: float) -> tuple[int, list]:
    """What `access` gets for `topic` without a group: the error code of the broker's
    metadata answer, and the records of its partitions assigned by hand (partition 0 when
    the broker names none), read until some come or `wait_s` is up."""
    admin = AIOKafkaAdminClient(**access.client_kwargs())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [p["partition"] for p in described["partitions"]] or [0]
    consumer = AIOKafkaConsumer(auto_offset_reset="earliest", **access.client_kwargs())
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        got: list = []
        deadline = time.monotonic() + wait_s
        while not got and time.monotonic() < deadline:
            for recs in (await consumer.getmany(timeout_ms=250)).values():
                got.extend(recs)
        return described["error_code"], got
    finally:
        await consumer.stop()


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_worker_and_router_with_credentials_and_a_carrier_reads_only_its_own_feed(
    broker, traffic, redis_url, tmp_path
):
    detected = [orjson.loads(x) for x in (traffic / "detected.jsonl").read_bytes().splitlines()]
    by_carrier = Counter(v["carrier"] for v in detected)
    assert all(by_carrier[c] > 0 for c in CARRIER_USERS), by_carrier
    lastmile_access, zto = broker.access("lastmile"), broker.access("ZTO")

    s = Scenario(broker.bootstrap, redis_url, tmp_path, hold_s=1.0)
    secure_env = broker.env("lastmile", LASTMILE_TOPIC_PREFIX=s.prefix, LASTMILE_APP_ID=s.name)
    acls = lastmile_cli(
        "carrier-acls",
        "--carrier",
        "ZTO",
        "--bootstrap-server",
        broker.bootstrap,
        "--command-config",
        str(broker.admin_properties),
        env=secure_env,
    )
    assert acls.returncode == 0, acls.stderr
    acl_lines = acls.stdout.splitlines()
    assert len(acl_lines) == 2 and f"--topic {s.prefix}violations.v1.ZTO " in acl_lines[0]
    acls_applied = ThreadPoolExecutor(1).submit(broker.run_acl_lines, acl_lines)  # JVMs: meanwhile

    router_port = free_port()
    router_log = open(tmp_path / "router.log", "wb")  # noqa: SIM115
    router = subprocess.Popen(
        [sys.executable, "-m", "lastmile.cli", "router", "--loglevel", "warning"],
        env={**os.environ, **secure_env, "LASTMILE_ROUTER_WEB_PORT": str(router_port)},
        stdout=router_log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    try:
        s.start_worker(**secure_env)
        s.kafka = lastmile_access  # publish and read back as User:lastmile
        s.publish(traffic / "scans.jsonl", traffic / "complaints.jsonl")
        published = s.wait_for("violations.v1", len(detected), settle=0)
        assert {orjson.loads(r.value)["violation_id"] for r in published} == {
            v["violation_id"] for v in detected
        }
        zto_ids = {orjson.loads(r.value)["violation_id"] for r in published if r.key == b"ZTO"}

        acls_applied.result(timeout=120)
        feed = f"{s.prefix}violations.v1.ZTO"
        got = asyncio.run(consume_all(zto, feed, f"carrier.ZTO.{s.name}", len(zto_ids)))
        assert {orjson.loads(r.value)["violation_id"] for r in got} == zto_ids
        assert {r.key for r in got} == {b"ZTO"}

        # EMS's feed exists (the router made it) and holds EMS's records only
        ems_feed = f"{s.prefix}violations.v1.EMS"
        ems = wait_until(
            lambda: asyncio.run(read_topic(lastmile_access, ems_feed)), 60, "EMS's feed"
        )
        assert {r.key for r in ems} == {b"EMS"}

        # ZTO is refused EMS's topic and the shared topic, in a group or by partition
        for topic in (ems_feed, f"{s.prefix}violations.v1"):
            err = asyncio.run(refused(zto, topic, f"carrier.ZTO.{s.name}"))
            assert isinstance(err, TopicAuthorizationFailedError), (topic, err)
            code, got = asyncio.run(by_hand(zto, topic, wait_s=1.0))
            assert code == TopicAuthorizationFailedError.errno and got == [], (topic, code)
        code, got = asyncio.run(by_hand(zto, feed, wait_s=20.0))  # works on its own topic
        assert code == 0 and got
        # and a group outside carrier.ZTO.* even on its own topic
        with pytest.raises(GroupAuthorizationFailedError):
            asyncio.run(consume_all(zto, feed, "someone-else", 1, timeout_s=10))

        with urllib.request.urlopen(f"http://127.0.0.1:{router_port}/metrics", timeout=5) as r:
            page = r.read().decode()
        assert f'lastmile_router_records_total{{carrier="ZTO"}} {float(len(zto_ids))}' in page
    finally:
        s.stop_all()
        router.terminate()
        router.wait(timeout=30)
        router_log.close()
    assert router.returncode == 0, (tmp_path / "router.log").read_text()[-3000:]


def test_bad_credentials_or_an_untrusted_certificate_fail_clearly(broker, traffic, tmp_path):
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    bad_password = broker.env(LASTMILE_KAFKA_SASL_PASSWORD_FILE=str(wrong))
    no_ca = {k: v for k, v in broker.env().items() if k != "LASTMILE_KAFKA_SSL_CAFILE"}
    scans = ("--scans", str(traffic / "scans.jsonl"))
    cases = [
        (("worker",), bad_password, "refused the credentials of User:lastmile"),
        (("router",), bad_password, "refused the credentials of User:lastmile"),
        (("publish", *scans), bad_password, "refused the credentials of User:lastmile"),
        (("router",), no_ca, "is not trusted"),
        (("worker",), broker.env(LASTMILE_KAFKA_SASL_USERNAME=""), "KAFKA_SASL_USERNAME"),
        (("publish", *scans), broker.mtls_env(False), "wants a client certificate it trusts"),
    ]
    assert_each_fails_clearly(cases)


def test_mutual_tls_the_client_certificate_is_the_principal(broker, tmp_path):
    """SSL with a client certificate (CN=lastmile → User:lastmile, a super user): publish
    and read back; the same records are visible through SASL_SSL as User:lastmile."""
    topic_prefix = f"m{os.getpid()}{int(time.time())}."
    lines = tmp_path / "scans.jsonl"
    lines.write_bytes(b'{"parcel_id":"P1","x":1}\n{"parcel_id":"P2","x":2}\n')
    env = {**broker.mtls_env(), "LASTMILE_TOPIC_PREFIX": topic_prefix}
    done = lastmile_cli("publish", "--scans", str(lines), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    got = asyncio.run(read_topic(broker.access("lastmile"), f"{topic_prefix}scans.v1"))
    assert sorted(r.value for r in got) == lines.read_bytes().splitlines()
