"""Settings: the one place that reads the environment.

Every variable has the ``LASTMILE_`` prefix; docs/configuration.md lists them with
their defaults. Commands build a Settings once and pass it down. pydantic-settings parses
and checks every value; a bad one is refused at start by ``settings_error`` with the
variable named (``LASTMILE_WEB_PORT: must be at most 65535 (got '70000')``). An empty
variable counts as unset.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_NETWORK = str(Path(__file__).parent / "data" / "yiyuan.network.json")
ENV_PREFIX = "LASTMILE_"

Port = Annotated[int, Field(ge=1, le=65535)]
Replicas = Annotated[int, Field(ge=1, le=32)]
KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class TopicDurability(BaseModel):
    """Per-topic override of the replication factor and min.insync.replicas."""

    model_config = {"extra": "forbid", "frozen": True}

    replication_factor: Replicas | None = None
    min_insync_replicas: Replicas | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid"
    )

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", min_length=1)
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", pattern=r"^(redis|rediss|unix)://")
    network: str = DEFAULT_NETWORK
    rules: str | None = None
    web_port: Port = 6066
    web_host: str = Field(default="127.0.0.1", min_length=1)
    api_port: Port = 8080
    api_metrics_port: Port = 9464
    store: str = Field(default="rocksdb://", pattern=r"^(rocksdb|memory)://")
    data_dir: str = "run/worker-data"
    partitions: int = Field(default=4, ge=1, le=1024)
    app_id: str = Field(default="lastmile", min_length=1, max_length=200)
    topic_prefix: str = ""
    batch_size: int = Field(default=2000, ge=1, le=1_000_000)
    batch_within_s: float = Field(default=0.05, gt=0, le=60, allow_inf_nan=False)
    redis_prefix: str = Field(default="lm", min_length=1, max_length=64)
    worker_id: str = ""
    hold_s: float = Field(default=5.0, ge=0, le=3600, allow_inf_nan=False)
    redis_max_connections: int = Field(default=50, ge=2, le=10_000)
    redis_timeout_s: float = Field(default=5.0, gt=0, le=300, allow_inf_nan=False)
    review_salt: str = ""
    review_key_file: str = "run/review.key"
    faults: str = ""  # testing only: crash points (worker/faults.py)
    state_cache: int = Field(default=50_000, ge=1, le=100_000_000)
    rocksdb_memory_mb: int = Field(default=64, ge=8, le=65_536)
    # Kafka security (lastmile.io.kafka_access turns these into client arguments)
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = Field(default="", repr=False)
    kafka_sasl_password_file: str = ""
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    # durability of the topics lastmile creates (None: 3 / 2, capped by the cluster's brokers)
    topic_replication_factor: Replicas | None = None
    topic_min_insync_replicas: Replicas | None = None
    topic_durability: dict[str, TopicDurability] = Field(default_factory=dict)
    # Redis credentials beside the URL (lastmile.io.redis_client)
    redis_password_file: str = ""
    redis_ssl_cafile: str = ""
    redis_ssl_certfile: str = ""
    redis_ssl_keyfile: str = ""
    # the carrier-feed router (lastmile router)
    router_web_port: Port = 6067
    router_create_topics: bool = True
    health_max_lag: int = Field(default=100_000, ge=1)
    stall_timeout_s: float = Field(default=300.0, ge=10, le=86_400, allow_inf_nan=False)

    @model_validator(mode="after")
    def _default_worker_id(self) -> Settings:
        if not self.worker_id:  # stable across restarts of the same worker slot
            object.__setattr__(self, "worker_id", f"{socket.gethostname()}:{self.web_port}")
        return self

    @model_validator(mode="after")
    def _security_is_consistent(self) -> Settings:
        for problem in security_problems(self):
            raise ValueError(problem)
        return self

    def topic(self, name: str) -> str:
        """Full topic name (a prefix isolates test runs on a shared broker)."""
        return f"{self.topic_prefix}{name}"


def security_problems(s: Settings) -> list[str]:
    """What makes the Kafka and Redis security settings unusable together (each names its
    variables)."""
    p = ENV_PREFIX
    sasl = s.kafka_sasl_username or s.kafka_sasl_password or s.kafka_sasl_password_file
    tls = s.kafka_ssl_cafile or s.kafka_ssl_certfile or s.kafka_ssl_keyfile
    out = []
    if s.kafka_security_protocol == "PLAINTEXT" and (sasl or tls):
        what = "KAFKA_SASL_*" if sasl else "KAFKA_SSL_*"
        out.append(
            f"{p}{what} is set but {p}KAFKA_SECURITY_PROTOCOL is PLAINTEXT "
            "(set it to SSL or SASL_SSL, or unset the credentials)"
        )
    if s.kafka_security_protocol == "SSL" and sasl:
        out.append(f"{p}KAFKA_SASL_* is set but {p}KAFKA_SECURITY_PROTOCOL is SSL (use SASL_SSL)")
    if s.kafka_security_protocol == "SASL_SSL":
        if not s.kafka_sasl_username:
            out.append(f"{p}KAFKA_SASL_USERNAME: required with SASL_SSL")
        if bool(s.kafka_sasl_password) == bool(s.kafka_sasl_password_file):
            out.append(
                f"{p}KAFKA_SASL_PASSWORD or {p}KAFKA_SASL_PASSWORD_FILE: "
                "exactly one is required with SASL_SSL"
            )
    if bool(s.kafka_ssl_certfile) != bool(s.kafka_ssl_keyfile):
        out.append(f"{p}KAFKA_SSL_CERTFILE and {p}KAFKA_SSL_KEYFILE: give both or neither")
    if bool(s.redis_ssl_certfile) != bool(s.redis_ssl_keyfile):
        out.append(f"{p}REDIS_SSL_CERTFILE and {p}REDIS_SSL_KEYFILE: give both or neither")
    if s.redis_password_file and urlsplit(s.redis_url).password is not None:
        out.append(f"{p}REDIS_PASSWORD_FILE is set and {p}REDIS_URL holds a password too: keep one")
    redis_tls = s.redis_ssl_cafile or s.redis_ssl_certfile
    if redis_tls and not s.redis_url.startswith("rediss://"):
        out.append(f"{p}REDIS_SSL_* is set but {p}REDIS_URL is not rediss:// (TLS)")
    return out


class SettingsError(ValueError):
    """A LASTMILE_* variable with a value that cannot be used; the message names it."""


def settings_error(exc: ValidationError) -> SettingsError:
    """One line per bad variable: ``LASTMILE_X: what is wrong (got '...')``."""
    lines = []
    for err in exc.errors():
        if not err["loc"]:  # a check across variables: its message names them
            lines.append(str(err["msg"]).removeprefix("Value error, "))
            continue
        name = ENV_PREFIX + ".".join(str(p) for p in err["loc"]).upper()
        got = err.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
        lines.append(f"{name}: {err['msg'].lower()}{shown}")
    return SettingsError("; ".join(lines) or str(exc))


def load_settings() -> Settings:
    """Settings from the environment; SettingsError naming the variable when one is bad."""
    try:
        return Settings()
    except ValidationError as exc:
        raise settings_error(exc) from None


SETTINGS_DOC = {
    "LASTMILE_KAFKA_BOOTSTRAP": ("127.0.0.1:9092", "Kafka bootstrap servers"),
    "LASTMILE_REDIS_URL": ("redis://127.0.0.1:6379/0", "Redis holding the read models"),
    "LASTMILE_NETWORK": ("the bundled Yiyuan sample network", "network.v1 file of the county"),
    "LASTMILE_RULES": (
        "(contract defaults)",
        "rules config file (YAML/JSON) overriding thresholds",
    ),
    "LASTMILE_WEB_PORT": ("6066", "worker web port: /metrics, /healthz"),
    "LASTMILE_WEB_HOST": ("127.0.0.1", "address the worker's web server binds"),
    "LASTMILE_API_PORT": ("8080", "port of `lastmile api`"),
    "LASTMILE_API_METRICS_PORT": ("9464", "internal port of the API's /metrics (127.0.0.1)"),
    "LASTMILE_STORE": ("rocksdb://", "Faust table store (rocksdb:// via rocksdict, or memory://)"),
    "LASTMILE_DATA_DIR": ("run/worker-data", "Faust data directory (RocksDB files)"),
    "LASTMILE_PARTITIONS": ("4", "partitions of the topics the worker creates"),
    "LASTMILE_APP_ID": ("lastmile", "Faust app id = Kafka consumer group and changelog prefix"),
    "LASTMILE_TOPIC_PREFIX": ("(none)", "prefix for every topic name (test isolation)"),
    "LASTMILE_BATCH_SIZE": ("2000", "max events per processing batch"),
    "LASTMILE_BATCH_WITHIN_S": ("0.05", "max wait to fill a batch, seconds"),
    "LASTMILE_REDIS_PREFIX": ("lm", "prefix of every Redis key"),
    "LASTMILE_HOLD_S": ("5", "seconds a late-sensitive finding waits before it is published"),
    "LASTMILE_STATE_CACHE": (
        "50000",
        "decoded parcel paths the worker keeps in memory in front of its table store",
    ),
    "LASTMILE_ROCKSDB_MEMORY_MB": (
        "64",
        "RocksDB memory of the whole worker (one block cache holding memtables, index and "
        "filter blocks, shared by every table partition it owns), MiB",
    ),
    "LASTMILE_HEALTH_MAX_LAG": (
        "100000",
        "input messages waiting above which /healthz says the worker is behind (503)",
    ),
    "LASTMILE_STALL_TIMEOUT_S": (
        "300",
        "a worker that cannot make progress this long (broker unreachable, input waiting "
        "but nothing committed, violation log unread) exits with status 1",
    ),
    "LASTMILE_FAULTS": (
        "(none)",
        "testing only: crash points the worker exits at (worker/faults.py)",
    ),
    "LASTMILE_WORKER_ID": (
        "<hostname>:<web port>",
        "stable worker id (metrics count what it published)",
    ),
    "LASTMILE_REDIS_MAX_CONNECTIONS": ("50", "Redis connections per process (API, CLI)"),
    "LASTMILE_REDIS_TIMEOUT_S": ("5", "Redis socket/command timeout of the API and the CLI"),
    "LASTMILE_REVIEW_SALT": ("(none)", "key of the courier pseudonyms (else the key file)"),
    "LASTMILE_REVIEW_KEY_FILE": (
        "run/review.key",
        "pseudonym key, generated on first use when LASTMILE_REVIEW_SALT is unset",
    ),
    "LASTMILE_KAFKA_SECURITY_PROTOCOL": ("PLAINTEXT", "PLAINTEXT, SSL or SASL_SSL"),
    "LASTMILE_KAFKA_SASL_MECHANISM": ("SCRAM-SHA-512", "SASL mechanism (with SASL_SSL)"),
    "LASTMILE_KAFKA_SASL_USERNAME": ("(none)", "SASL user = Kafka principal User:<name>"),
    "LASTMILE_KAFKA_SASL_PASSWORD": ("(none)", "SASL password (or the file below)"),
    "LASTMILE_KAFKA_SASL_PASSWORD_FILE": ("(none)", "file holding the SASL password"),
    "LASTMILE_KAFKA_SSL_CAFILE": ("(system CAs)", "PEM CA bundle that signed the brokers"),
    "LASTMILE_KAFKA_SSL_CERTFILE": ("(none)", "PEM client certificate (mutual TLS)"),
    "LASTMILE_KAFKA_SSL_KEYFILE": ("(none)", "PEM key of the client certificate"),
    "LASTMILE_TOPIC_REPLICATION_FACTOR": (
        "3, capped at the brokers in the cluster",
        "replication factor of the topics lastmile creates",
    ),
    "LASTMILE_TOPIC_MIN_INSYNC_REPLICAS": (
        "2, capped at the replication factor",
        "min.insync.replicas of the topics lastmile creates",
    ),
    "LASTMILE_TOPIC_DURABILITY": ("(none)", "per-topic overrides (JSON)"),
    "LASTMILE_REDIS_PASSWORD_FILE": ("(none)", "file holding the Redis password"),
    "LASTMILE_REDIS_SSL_CAFILE": ("(system CAs)", "PEM CA bundle of a rediss:// server"),
    "LASTMILE_REDIS_SSL_CERTFILE": ("(none)", "PEM client certificate for Redis TLS"),
    "LASTMILE_REDIS_SSL_KEYFILE": ("(none)", "PEM key of the Redis client certificate"),
    "LASTMILE_ROUTER_WEB_PORT": ("6067", "`lastmile router`: /metrics, /healthz"),
    "LASTMILE_ROUTER_CREATE_TOPICS": ("true", "the router creates a carrier's topic when missing"),
}
