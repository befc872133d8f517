"""Rules and network files: non-finite, out-of-range and malformed values are refused at
start with the file and the entry named, never accepted silently or with a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lastmile.domain.network import NetworkError
from lastmile.domain.rules import MAXIMA, RuleConfig
from lastmile.io.files import ConfigError, load_network, load_rule_config


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "line, named, says",
    [
        ("far_from_address_m: .nan", "far_from_address_m", "finite"),
        ("far_from_address_m: .inf", "far_from_address_m", "finite"),
        ("bulk_min_signoffs: .inf", "bulk_min_signoffs", "finite"),
        ("bulk_min_signoffs: 2.5", "bulk_min_signoffs", "whole number"),
        ("bulk_window_s: -1", "bulk_window_s", "above 0"),
        ("bulk_window_s: 0", "bulk_window_s", "above 0"),
        ("impossible_travel_kmh: 1.0e+12", "impossible_travel_kmh", "at most"),
        ("retention_days: '30'", "retention_days", "must be a number"),
        ("stuck_hours: true", "stuck_hours", "must be a number"),
        ("no_such_rule: 1", "no_such_rule", "unknown"),
    ],
)
def test_bad_thresholds_are_refused_naming_the_entry(
    tmp_path: Path, line: str, named: str, says: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        load_rule_config(write(tmp_path, "rules.yaml", line + "\n"))
    assert named in str(exc.value) and says in str(exc.value)
    assert "rules.yaml" in str(exc.value)


def test_json_nan_is_refused_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="finite"):
        load_rule_config(write(tmp_path, "rules.json", '{"far_from_address_m": NaN}'))


def test_every_threshold_has_a_maximum_and_the_defaults_are_within_it() -> None:
    cfg = RuleConfig()
    for key, hi in MAXIMA.items():
        assert 0 < getattr(cfg, key) <= hi


def test_valid_values_still_load(tmp_path: Path) -> None:
    cfg = load_rule_config(
        write(tmp_path, "r.yaml", "bulk_min_signoffs: 12.0\nbulk_window_s: 90\n")
    )
    assert cfg.bulk_min_signoffs == 12 and isinstance(cfg.bulk_min_signoffs, int)
    assert cfg.bulk_window_s == 90.0


@pytest.mark.parametrize(
    "name, text, says",
    [
        ("rules.yaml", "!!python/object/apply:os.system ['true']\n", "not valid YAML"),
        ("rules.yaml", "a: [\n", "not valid YAML"),
        ("rules.json", "[" * 100_000 + "]" * 100_000, "JSON"),
        ("rules.yaml", "[1, 2]\n", "mapping"),
    ],
)
def test_malformed_rules_files_are_one_clear_error(
    tmp_path: Path, name: str, text: str, says: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        load_rule_config(write(tmp_path, name, text))
    assert says in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "name, text",
    [
        ("net.yaml", "!!python/name:os.system\n"),
        ("net.yaml", "county: !custom 1\n"),
        ("net.json", "[" * 100_000 + "]" * 100_000),
        ("net.json", json.dumps({"version": 1, "county": {"code": "1", "name": "x"}}) + "}"),
    ],
)
def test_malformed_network_files_are_one_clear_error(tmp_path: Path, name: str, text: str) -> None:
    with pytest.raises(NetworkError) as exc:
        load_network(write(tmp_path, name, text))
    assert name in str(exc.value) and "\n" not in str(exc.value)
