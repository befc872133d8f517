"""Settings: one place reads the environment, every variable is documented, and a bad value
is refused with the variable named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lastmile.settings import SETTINGS_DOC, Settings, SettingsError, load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented_in_the_code_and_in_the_docs():
    fields = {f"LASTMILE_{name.upper()}" for name in Settings.model_fields}
    assert fields == set(SETTINGS_DOC)
    documented = set(re.findall(r"`(LASTMILE_[A-Z_]+)`", DOC.read_text()))
    assert fields <= documented


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LASTMILE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    monkeypatch.setenv("LASTMILE_WEB_PORT", "7001")
    monkeypatch.delenv("LASTMILE_WORKER_ID", raising=False)
    monkeypatch.delenv("LASTMILE_TOPIC_PREFIX", raising=False)
    s = Settings()
    assert s.kafka_bootstrap == "127.0.0.1:19092"
    assert s.web_port == 7001
    assert s.worker_id.endswith(":7001")  # stable across restarts of the same slot
    assert s.topic("scans.v1") == "scans.v1"
    monkeypatch.setenv("LASTMILE_TOPIC_PREFIX", "t1.")
    assert Settings().topic("scans.v1") == "t1.scans.v1"


def test_an_empty_variable_counts_as_unset(monkeypatch):
    monkeypatch.setenv("LASTMILE_RULES", "")
    monkeypatch.setenv("LASTMILE_API_PORT", "")
    s = load_settings()
    assert s.rules is None
    assert s.api_port == 8080


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("LASTMILE_WEB_PORT", "abc", "valid integer"),
        ("LASTMILE_API_PORT", "70000", "65535"),
        ("LASTMILE_API_PORT", "0", "greater than or equal to 1"),
        ("LASTMILE_PARTITIONS", "-1", "greater than or equal to 1"),
        ("LASTMILE_HOLD_S", "nan", "finite"),
        ("LASTMILE_BATCH_WITHIN_S", "inf", "finite"),
        ("LASTMILE_BATCH_SIZE", "1e3", "valid integer"),
        ("LASTMILE_REDIS_URL", "http://127.0.0.1:6379", "pattern"),
        ("LASTMILE_STORE", "s3://x", "pattern"),
        ("LASTMILE_REDIS_TIMEOUT_S", "0", "greater than 0"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(monkeypatch, name, value, says):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    message = str(exc.value)
    assert message.startswith(f"{name}: ")
    assert says in message
    assert repr(value) in message
    assert "\n" not in message
