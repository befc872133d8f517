"""Settings: the one place that reads the environment.

Every variable has the ``LASTMILE_`` prefix; docs/configuration.md lists them with
their defaults. Commands build a Settings once and pass it down.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_NETWORK = str(Path(__file__).parent / "data" / "yiyuan.network.json")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"LASTMILE_{name}", default)


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = field(default_factory=lambda: _env("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", "redis://127.0.0.1:6379/0"))
    network: str = field(default_factory=lambda: _env("NETWORK", DEFAULT_NETWORK))
    rules: str | None = field(default_factory=lambda: os.environ.get("LASTMILE_RULES") or None)
    web_port: int = field(default_factory=lambda: int(_env("WEB_PORT", "6066")))
    web_host: str = field(default_factory=lambda: _env("WEB_HOST", "127.0.0.1"))
    api_port: int = field(default_factory=lambda: int(_env("API_PORT", "8080")))
    store: str = field(default_factory=lambda: _env("STORE", "rocksdb://"))
    data_dir: str = field(default_factory=lambda: _env("DATA_DIR", "run/worker-data"))
    partitions: int = field(default_factory=lambda: int(_env("PARTITIONS", "4")))
    app_id: str = field(default_factory=lambda: _env("APP_ID", "lastmile"))
    topic_prefix: str = field(default_factory=lambda: _env("TOPIC_PREFIX", ""))
    batch_size: int = field(default_factory=lambda: int(_env("BATCH_SIZE", "2000")))
    batch_within_s: float = field(default_factory=lambda: float(_env("BATCH_WITHIN_S", "0.05")))
    redis_prefix: str = field(default_factory=lambda: _env("REDIS_PREFIX", "lm"))
    worker_id: str = field(default_factory=lambda: os.environ.get("LASTMILE_WORKER_ID", ""))
    hold_s: float = field(default_factory=lambda: float(_env("HOLD_S", "5")))
    faults: str = field(default_factory=lambda: _env("FAULTS", ""))
    state_cache: int = field(default_factory=lambda: int(_env("STATE_CACHE", "200000")))

    def __post_init__(self) -> None:
        if not self.worker_id:  # stable across restarts of the same worker slot
            object.__setattr__(self, "worker_id", f"{socket.gethostname()}:{self.web_port}")

    def topic(self, name: str) -> str:
        """Full topic name (a prefix isolates test runs on a shared broker)."""
        return f"{self.topic_prefix}{name}"


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
        "200000",
        "decoded parcel paths the worker keeps in memory in front of its table store",
    ),
    "LASTMILE_FAULTS": (
        "(none)",
        "testing only: crash points the worker exits at (worker/faults.py)",
    ),
    "LASTMILE_WORKER_ID": (
        "<hostname>:<web port>",
        "stable worker id (metrics count what it published)",
    ),
}
