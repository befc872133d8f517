"""Loading the operator's files: the network and the rules configuration."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lastmile.domain.network import NetworkError, load_network
from lastmile.domain.rules import ConfigError, RuleConfig, rule_config_from_mapping

__all__ = ["ConfigError", "NetworkError", "load_network", "load_rule_config"]


def load_rule_config(path: str | Path | None) -> RuleConfig:
    """Load a rules file (YAML or JSON); None gives the contract's defaults."""
    if path is None:
        return RuleConfig()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read rules config {p}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read rules config {p}: {exc.strerror}") from exc
    kind = "JSON" if p.suffix.lower() == ".json" else "YAML"
    try:
        doc = json.loads(text) if kind == "JSON" else yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{p}: not usable {kind}: nested too deeply") from None
    except (ValueError, yaml.YAMLError) as exc:
        detail = str(exc).replace("\n", " ")
        raise ConfigError(f"{p}: not valid {kind}: {detail}") from exc
    try:
        return rule_config_from_mapping(doc)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from exc
