"""The external contract v1: network file, scan, complaint and violation messages.

``messages`` defines each message once; ``decode`` (the hot-path decoders) and
``schemas`` (the committed JSON Schemas) are derived from it.
"""

from lastmile.contract.messages import (
    Complaint,
    Destination,
    Fee,
    Goods,
    Handover,
    Location,
    NetworkFile,
    Scan,
    Signoff,
    Violation,
)
from lastmile.domain.vocabulary import (
    COMPLAINT_CATEGORIES,
    FEE_REASONS,
    GOODS_CATEGORIES,
    MOVEMENT_TYPES,
    SCAN_TYPES,
    SIGNOFF_METHODS,
    VIOLATION_TYPES,
)

__all__ = [
    "COMPLAINT_CATEGORIES",
    "FEE_REASONS",
    "GOODS_CATEGORIES",
    "MOVEMENT_TYPES",
    "SCAN_TYPES",
    "SIGNOFF_METHODS",
    "VIOLATION_TYPES",
    "Complaint",
    "Destination",
    "Fee",
    "Goods",
    "Handover",
    "Location",
    "NetworkFile",
    "Scan",
    "Signoff",
    "Violation",
]
