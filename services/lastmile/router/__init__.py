"""The carrier-feed router: violations.v1 → violations.v1.<CARRIER> (ADR 0004)."""
