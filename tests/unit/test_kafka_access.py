"""Kafka and Redis security settings → client arguments (io/kafka_access.py, io/redis_client.py),
topic durability (io/kafka_topics.py): one place, inconsistent settings refused by name."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import AuthProtocol

from lastmile.io.kafka_access import KafkaAccess, faust_app_kwargs, kafka_access
from lastmile.io.kafka_topics import Durability, DurabilityError, resolve_durability
from lastmile.io.redis_client import redis_options, shown_url
from lastmile.io.secret_files import SecretFileError
from lastmile.settings import Settings, SettingsError, load_settings


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A CA, and a client certificate and key it signed (openssl)."""
    d = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out",
            "client.csr", "-subj", "/CN=lastmile")  # fmt: skip
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "client.pem", "-days", "2")  # fmt: skip
    (d / "password").write_text("s3cret\n")
    (d / "empty").write_text("\n")
    (d / "not-pem").write_text("hello\n")
    return d


def sasl(pki: Path, **extra) -> Settings:
    fields = {
        "kafka_bootstrap": "10.0.0.5:9094,10.0.0.6:9094",
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_username": "lastmile",
        "kafka_sasl_password_file": str(pki / "password"),
        "kafka_ssl_cafile": str(pki / "ca.pem"),
    }
    return Settings(**{**fields, **extra})


def test_plaintext_is_the_default_and_a_bootstrap_string_means_plaintext():
    access = kafka_access(Settings(kafka_bootstrap="127.0.0.1:9092"))
    assert access == KafkaAccess.of("127.0.0.1:9092")
    assert access.client_kwargs() == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert access.faust_credentials() is None


def test_sasl_ssl_gives_scram_credentials_over_tls_to_aiokafka_and_to_faust(pki):
    access = kafka_access(sasl(pki))
    kw = access.client_kwargs()
    assert kw["security_protocol"] == "SASL_SSL"
    assert kw["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kw["sasl_plain_username"], kw["sasl_plain_password"]) == ("lastmile", "s3cret")
    assert isinstance(kw["ssl_context"], ssl.SSLContext)
    assert kw["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert kw["ssl_context"].check_hostname
    creds = access.faust_credentials()
    assert isinstance(creds, SASLCredentials)
    assert creds.protocol == AuthProtocol.SASL_SSL
    assert creds.mechanism.value == "SCRAM-SHA-512"
    assert (creds.username, creds.password) == ("lastmile", "s3cret")
    app = faust_app_kwargs(sasl(pki, topic_replication_factor=3))
    assert app["broker"] == "kafka://10.0.0.5:9094;kafka://10.0.0.6:9094"
    assert app["topic_replication_factor"] == 3
    assert "s3cret" not in repr(access)


def test_ssl_with_a_client_certificate_is_mutual_tls(pki):
    access = kafka_access(
        Settings(
            kafka_security_protocol="SSL",
            kafka_ssl_cafile=str(pki / "ca.pem"),
            kafka_ssl_certfile=str(pki / "client.pem"),
            kafka_ssl_keyfile=str(pki / "client.key"),
        )
    )
    assert access.client_kwargs()["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in access.client_kwargs()
    assert isinstance(access.faust_credentials(), SSLCredentials)


@pytest.mark.parametrize(
    "env, says",
    [
        ({"KAFKA_SASL_USERNAME": "x"}, "LASTMILE_KAFKA_SASL_* is set but"),
        ({"KAFKA_SSL_CAFILE": "/ca.pem"}, "LASTMILE_KAFKA_SSL_* is set but"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": "p"}, "USERNAME: required"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"},
            "exactly one is required",
        ),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_USERNAME": "u",
                "KAFKA_SASL_PASSWORD": "p",
                "KAFKA_SASL_PASSWORD_FILE": "/f",
            },
            "exactly one is required",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SASL_USERNAME": "u"}, "use SASL_SSL"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": "/c"}, "give both or neither"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "KAFKA_SECURITY_PROTOCOL"),
        ({"KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM"),
        ({"REDIS_SSL_CAFILE": "/ca.pem"}, "is not rediss://"),
        (
            {"REDIS_URL": "redis://u:p@h:6379/0", "REDIS_PASSWORD_FILE": "/f"},
            "holds a password too",
        ),
        ({"TOPIC_REPLICATION_FACTOR": "0"}, "LASTMILE_TOPIC_REPLICATION_FACTOR"),
        ({"TOPIC_DURABILITY": '{"x": {"replicas": 3}}'}, "LASTMILE_TOPIC_DURABILITY"),
        ({"ROUTER_WEB_PORT": "70000"}, "LASTMILE_ROUTER_WEB_PORT"),
    ],
)
def test_inconsistent_security_settings_are_refused_naming_the_variables(monkeypatch, env, says):
    for name, value in env.items():
        monkeypatch.setenv(f"LASTMILE_{name}", value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert says in str(err.value)


@pytest.mark.parametrize(
    "field, file, says",
    [
        ("kafka_sasl_password_file", "missing", "LASTMILE_KAFKA_SASL_PASSWORD_FILE: no such file"),
        ("kafka_sasl_password_file", "empty", "LASTMILE_KAFKA_SASL_PASSWORD_FILE: "),
        ("kafka_ssl_cafile", "missing", "LASTMILE_KAFKA_SSL_CAFILE: no such file"),
        ("kafka_ssl_cafile", "not-pem", "LASTMILE_KAFKA_SSL_CAFILE: not a PEM CA bundle"),
    ],
)
def test_an_unusable_credentials_file_is_named(pki, field, file, says):
    with pytest.raises(SecretFileError, match=says):
        kafka_access(sasl(pki, **{field: str(pki / file)}))


def test_redis_options_read_the_password_file_and_pass_the_tls_files(pki):
    s = Settings(
        redis_url="rediss://lastmile@10.0.0.7:6380/0",
        redis_password_file=str(pki / "password"),
        redis_ssl_cafile=str(pki / "ca.pem"),
    )
    assert redis_options(s) == {"password": "s3cret", "ssl_ca_certs": str(pki / "ca.pem")}
    assert redis_options(Settings()) == {}
    with pytest.raises(SecretFileError, match="LASTMILE_REDIS_PASSWORD_FILE"):
        redis_options(Settings(redis_password_file=str(pki / "missing")))
    assert shown_url("redis://lastmile:s3cret@h:6379/0") == "redis://lastmile:***@h:6379/0"
    assert shown_url("rediss://h:6380/0") == "rediss://h:6380/0"


def test_durability_defaults_to_three_and_two_capped_at_the_brokers():
    assert resolve_durability(Settings(), 5) == (Durability(3, 2), [])
    one, warnings = resolve_durability(Settings(), 1)
    assert (one.replication_factor, one.min_insync_replicas) == (1, 1)
    assert "1 broker(s)" in warnings[0] and "production wants 3" in warnings[0]
    two, _ = resolve_durability(Settings(), 2)
    assert (two.replication_factor, two.min_insync_replicas) == (2, 2)


def test_explicit_durability_the_cluster_cannot_honour_is_refused():
    with pytest.raises(DurabilityError, match="needs 3 brokers; the cluster has 1"):
        resolve_durability(Settings(topic_replication_factor=3), 1)
    with pytest.raises(DurabilityError, match="above the replication factor"):
        resolve_durability(Settings(topic_replication_factor=2, topic_min_insync_replicas=3), 3)
    with pytest.raises(DurabilityError, match=r"TOPIC_DURABILITY\['violations.v1'\]"):
        resolve_durability(
            Settings(topic_durability={"violations.v1": {"replication_factor": 5}}), 3
        )


def test_per_topic_overrides_exact_name_first_then_globs_without_the_prefix():
    s = Settings(
        topic_prefix="t1.",
        topic_replication_factor=3,
        topic_durability={
            "violations.v1.*": {"replication_factor": 2},
            "violations.v1": {"replication_factor": 5, "min_insync_replicas": 3},
        },
    )
    d, warnings = resolve_durability(s, 5)
    assert warnings == []
    assert d.for_topic("t1.violations.v1") == (5, 3)
    assert d.for_topic("t1.violations.v1.ZTO") == (2, 2)
    assert d.for_topic("t1.scans.v1") == (3, 2)
    assert d.topic_configs("t1.violations.v1") == {"min.insync.replicas": "3"}


def test_per_topic_overrides_come_from_json_in_the_environment(monkeypatch):
    monkeypatch.setenv("LASTMILE_TOPIC_DURABILITY", '{"violations.v1": {"replication_factor": 5}}')
    monkeypatch.setenv("LASTMILE_TOPIC_MIN_INSYNC_REPLICAS", "3")
    d, _ = resolve_durability(load_settings(), 5)
    assert d.for_topic("violations.v1") == (5, 3)
    assert d.for_topic("scans.v1") == (3, 3)
