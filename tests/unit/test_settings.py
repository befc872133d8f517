"""Settings: one place reads the environment, and every variable is documented."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from lastmile.settings import SETTINGS_DOC, Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented_in_the_code_and_in_the_docs():
    fields = {f"LASTMILE_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    assert fields == set(SETTINGS_DOC)
    documented = set(re.findall(r"`(LASTMILE_[A-Z_]+)`", DOC.read_text()))
    assert fields <= documented


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LASTMILE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    monkeypatch.setenv("LASTMILE_WEB_PORT", "7001")
    monkeypatch.delenv("LASTMILE_WORKER_ID", raising=False)
    s = Settings()
    assert s.kafka_bootstrap == "127.0.0.1:19092"
    assert s.web_port == 7001
    assert s.worker_id.endswith(":7001")  # stable across restarts of the same slot
    assert s.topic("scans.v1") == "scans.v1"
    monkeypatch.setenv("LASTMILE_TOPIC_PREFIX", "t1.")
    assert Settings().topic("scans.v1") == "t1.scans.v1"
