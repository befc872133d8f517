"""The programme's vocabulary: the codes events and violations are made of.

The domain's own words. The contract's one definition (``lastmile.contract.messages``)
builds its enum types from these tuples, so the two cannot disagree.
"""

from __future__ import annotations

SCAN_TYPES: tuple[str, ...] = (
    "collected",
    "arrived",
    "departed",
    "handover",
    "out_for_delivery",
    "delivered",
    "fee_charged",
    "returned",
    "exception",
)
# a scan that says the parcel moved on (after a sign-off: a false sign-off, 虚假签收)
MOVEMENT_TYPES = frozenset({"collected", "arrived", "departed", "handover", "out_for_delivery"})
SIGNOFF_METHODS: tuple[str, ...] = ("recipient", "proxy", "locker", "station")
FEE_REASONS: tuple[str, ...] = ("delivery_surcharge", "cod_payment", "other")
COMPLAINT_CATEGORIES: tuple[str, ...] = (
    "not_received",
    "extra_fee",
    "not_delivered_to_address",
    "other",
)
# what an outbound parcel carries (contract §7; 农产品上行: farm produce going out)
GOODS_CATEGORIES: tuple[str, ...] = ("fresh_produce", "food", "documents", "general", "other")
PERISHABLE_BY_DEFAULT = frozenset({"fresh_produce"})  # unless the scan says perishable: false
VIOLATION_TYPES: tuple[str, ...] = ("wrong_address", "false_signoff", "extra_fee")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high")


def resolve_perishable(category: str, flag: bool | None) -> bool:
    """Contract §7: fresh produce is perishable unless marked ``perishable: false``; any
    other category only when marked ``perishable: true``."""
    if flag is not None:
        return flag
    return category in PERISHABLE_BY_DEFAULT
