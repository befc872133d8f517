"""The external contract v1: network file, scan, complaint and violation messages."""

from lastmile.contract.models import (
    Complaint,
    Destination,
    Fee,
    Handover,
    Location,
    Scan,
    Signoff,
    Violation,
)
from lastmile.domain.vocabulary import (
    COMPLAINT_CATEGORIES,
    FEE_REASONS,
    MOVEMENT_TYPES,
    SCAN_TYPES,
    SIGNOFF_METHODS,
    VIOLATION_TYPES,
)

__all__ = [
    "COMPLAINT_CATEGORIES",
    "FEE_REASONS",
    "MOVEMENT_TYPES",
    "SCAN_TYPES",
    "SIGNOFF_METHODS",
    "VIOLATION_TYPES",
    "Complaint",
    "Destination",
    "Fee",
    "Handover",
    "Location",
    "Scan",
    "Signoff",
    "Violation",
]
