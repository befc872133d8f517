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
from typing import Annotated

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_NETWORK = str(Path(__file__).parent / "data" / "yiyuan.network.json")
ENV_PREFIX = "LASTMILE_"

Port = Annotated[int, Field(ge=1, le=65535)]


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
    health_max_lag: int = Field(default=100_000, ge=1)
    stall_timeout_s: float = Field(default=300.0, ge=10, le=86_400, allow_inf_nan=False)

    @model_validator(mode="after")
    def _default_worker_id(self) -> Settings:
        if not self.worker_id:  # stable across restarts of the same worker slot
            object.__setattr__(self, "worker_id", f"{socket.gethostname()}:{self.web_port}")
        return self

    def topic(self, name: str) -> str:
        """Full topic name (a prefix isolates test runs on a shared broker)."""
        return f"{self.topic_prefix}{name}"


class SettingsError(ValueError):
    """A LASTMILE_* variable with a value that cannot be used; the message names it."""


def settings_error(exc: ValidationError) -> SettingsError:
    """One line per bad variable: ``LASTMILE_X: what is wrong (got '...')``."""
    lines = []
    for err in exc.errors():
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
}
