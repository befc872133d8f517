"""Injection rates of the simulator: one per rule of the rulebook, plus the noise knobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

# field name -> "type/rule" of the rulebook (contract §5)
RULE_OF_FIELD: dict[str, str] = {
    "left_at_town_or_county": "wrong_address/left_at_town_or_county",
    "wrong_village_point": "wrong_address/wrong_village_point",
    "far_from_address": "wrong_address/far_from_address",
    "wrong_address_complaint": "wrong_address/complaint",
    "movement_after_signoff": "false_signoff/movement_after_signoff",
    "impossible_travel": "false_signoff/impossible_travel",
    "bulk_signoff": "false_signoff/bulk_signoff",
    "false_signoff_complaint": "false_signoff/complaint",
    "fee_charged": "extra_fee/fee_charged",
    "extra_fee_complaint": "extra_fee/complaint",
}
ALL_RULES: tuple[str, ...] = tuple(RULE_OF_FIELD.values())
NOISE_FIELDS = ("duplicates", "late", "invalid")


@dataclass(frozen=True)
class InjectionRates:
    """Share of inbound parcels given each injected violation (bulk: parcels signed in bursts),
    and the noise of the scan stream (shares of scan lines)."""

    left_at_town_or_county: float = 0.005
    wrong_village_point: float = 0.005
    far_from_address: float = 0.005
    wrong_address_complaint: float = 0.003
    movement_after_signoff: float = 0.006
    impossible_travel: float = 0.004
    bulk_signoff: float = 0.006
    false_signoff_complaint: float = 0.004
    fee_charged: float = 0.008
    extra_fee_complaint: float = 0.003
    duplicates: float = 0.02
    late: float = 0.005
    invalid: float = 0.005

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"rate {f.name!r} must be a number ({value!r})")
            if not 0.0 <= value <= 0.2:
                raise ValueError(f"rate {f.name!r} must be between 0 and 0.2 ({value!r})")
        total = sum(getattr(self, name) for name in RULE_OF_FIELD)
        if total > 0.5:
            raise ValueError(f"the injection rates add up to {total:.3f}; at most 0.5 is allowed")

    @classmethod
    def from_mapping(cls, rates: Mapping[str, Any] | None) -> InjectionRates:
        """Rates from ``{name: fraction}``; a name is a field name (``fee_charged``), a
        ``type/rule`` (``extra_fee/complaint``) or an unambiguous rule name (``bulk_signoff``)."""
        if not rates:
            return cls()
        by_rule = {rule: name for name, rule in RULE_OF_FIELD.items()}
        short: dict[str, list[str]] = {}
        for name, rule in RULE_OF_FIELD.items():
            short.setdefault(rule.split("/", 1)[1], []).append(name)
        known = {f.name for f in fields(cls)}
        changes: dict[str, float] = {}
        for key, value in rates.items():
            k = key.strip().replace("-", "_") if "/" not in key else key.strip()
            if k in known:
                name = k
            elif k in by_rule:
                name = by_rule[k]
            elif k in short and len(short[k]) == 1:
                name = short[k][0]
            elif k in short:
                options = ", ".join(RULE_OF_FIELD[n] for n in short[k])
                raise ValueError(f"rate {key!r} is ambiguous: say one of {options}")
            else:
                raise ValueError(
                    f"unknown rate {key!r}: want one of {', '.join(sorted(known))} or a type/rule"
                )
            try:
                changes[name] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"rate {key!r} must be a number ({value!r})") from None
        return replace(cls(), **changes)

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
