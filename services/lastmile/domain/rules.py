"""RuleConfig: every threshold of the rulebook (contract §5) in one object.

Defaults are the contract's. A county may override any of them from a YAML/JSON file
(``--config``); unknown keys and wrong types are refused by name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

SEVERITY_LEVELS = ("low", "medium", "high")

# rule -> (violation type, base severity). Remote villages raise the severity one level.
RULES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "wrong_address/left_at_town_or_county": ("wrong_address", "medium"),
        "wrong_address/wrong_village_point": ("wrong_address", "low"),
        "wrong_address/far_from_address": ("wrong_address", "medium"),
        "wrong_address/complaint": ("wrong_address", "medium"),
        "false_signoff/movement_after_signoff": ("false_signoff", "high"),
        "false_signoff/impossible_travel": ("false_signoff", "high"),
        "false_signoff/bulk_signoff": ("false_signoff", "high"),
        "false_signoff/complaint": ("false_signoff", "medium"),
        "extra_fee/fee_charged": ("extra_fee", "medium"),
        "extra_fee/complaint": ("extra_fee", "medium"),
    }
)


class ConfigError(ValueError):
    """A rules configuration that cannot be used."""


@dataclass(frozen=True)
class RuleConfig:
    far_from_address_m: float = 1_000.0
    movement_after_signoff_s: float = 600.0
    impossible_travel_min_m: float = 3_000.0
    impossible_travel_kmh: float = 120.0
    bulk_window_s: float = 60.0
    bulk_min_signoffs: int = 10
    bulk_min_villages: int = 3
    retention_days: float = 30.0
    on_time_hours: float = 72.0
    stuck_hours: float = 48.0
    coverage_days: float = 30.0
    # contract §7: outbound farm produce (农产品上行) and data quality (indicators, not rules)
    perishable_stall_hours: float = 12.0  # no movement scan for longer, still in the county
    perishable_out_hours: float = 24.0  # collected → left the county within this: on time
    silent_point_days: float = 7.0  # a village point with no scan for this long is silent
    clock_skew_s: float = 600.0  # occurred_at further ahead of processing time is skewed
    signoffs_without_location_share: float = 0.5  # a carrier above it is flagged
    clock_skewed_share: float = 0.01  # a carrier with more of its scans skewed is flagged
    severity: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({k: v[1] for k, v in RULES.items()})
    )
    remote_raises_severity: bool = True

    def severity_for(self, vtype: str, rule: str, remote: bool | None) -> str:
        base = self.severity[f"{vtype}/{rule}"]
        if remote and self.remote_raises_severity:
            i = SEVERITY_LEVELS.index(base)
            return SEVERITY_LEVELS[min(i + 1, len(SEVERITY_LEVELS) - 1)]
        return base


# the largest value that still makes sense for each threshold (a typo like an extra few
# zeros, or .inf, would silently switch a rule off)
MAXIMA: Mapping[str, float] = MappingProxyType(
    {
        "far_from_address_m": 100_000.0,
        "movement_after_signoff_s": 30 * 86_400.0,
        "impossible_travel_min_m": 1_000_000.0,
        "impossible_travel_kmh": 2_000.0,
        "bulk_window_s": 86_400.0,
        "bulk_min_signoffs": 100_000,
        "bulk_min_villages": 10_000,
        "retention_days": 3_650.0,
        "on_time_hours": 8_760.0,
        "stuck_hours": 8_760.0,
        "coverage_days": 3_650.0,
        "perishable_stall_hours": 8_760.0,
        "perishable_out_hours": 8_760.0,
        "silent_point_days": 3_650.0,
        "clock_skew_s": 30 * 86_400.0,
        "signoffs_without_location_share": 1.0,
        "clock_skewed_share": 1.0,
    }
)


def _threshold(key: str, value: Any) -> float | int:
    """A positive, finite, in-range number (a whole number for counts), or ConfigError."""
    hi = MAXIMA[key]
    whole = key.startswith("bulk_min")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"rules config: {key!r} must be a number ({value!r})")
    if not math.isfinite(value):
        raise ConfigError(f"rules config: {key!r} must be a finite number ({value!r})")
    if not 0 < value <= hi:
        raise ConfigError(f"rules config: {key!r} must be above 0 and at most {hi:g} ({value!r})")
    if whole:
        if value != int(value):
            raise ConfigError(f"rules config: {key!r} must be a whole number ({value!r})")
        return int(value)
    return float(value)


def rule_config_from_mapping(doc: Any) -> RuleConfig:
    """Build a RuleConfig from a parsed file; refuse unknown keys and bad values by name."""
    if doc is None:
        return RuleConfig()
    if not isinstance(doc, Mapping):
        raise ConfigError("rules config: the top level must be a mapping")
    known = {f.name: f for f in fields(RuleConfig)}
    base = RuleConfig()
    changes: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in known:
            raise ConfigError(f"rules config: unknown setting {key!r}")
        if key == "severity":
            if not isinstance(value, Mapping):
                raise ConfigError("rules config: 'severity' must map 'type/rule' to a level")
            merged = dict(base.severity)
            for rule, level in value.items():
                if rule not in RULES:
                    raise ConfigError(f"rules config: severity for unknown rule {rule!r}")
                if level not in SEVERITY_LEVELS:
                    raise ConfigError(f"rules config: severity {level!r} of {rule!r} is invalid")
                merged[rule] = level
            changes[key] = MappingProxyType(merged)
        elif key == "remote_raises_severity":
            if not isinstance(value, bool):
                raise ConfigError("rules config: 'remote_raises_severity' must be true or false")
            changes[key] = value
        else:
            changes[key] = _threshold(key, value)
    return replace(base, **changes)
