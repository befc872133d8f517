"""``lastmile detect``: the rulebook over JSONL exports, offline.

Reads scans (and complaints) in any order with repeats, writes each violation once as a
violation.v1 line, dead-letters each invalid line with its reason, prints a summary.
"""

from __future__ import annotations

import gc
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
from rich.table import Table

from lastmile.console import console
from lastmile.contract.decode import decode_complaint, decode_scan
from lastmile.domain.engine import Detection
from lastmile.domain.indicators import compute_indicators
from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.io.events import InputStats, read_events
from lastmile.io.jsonl import open_out


def run_detect(
    network: Network,
    config: RuleConfig,
    scans: str,
    complaints: str | None,
    out: str,
    dlq_path: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Run detection end to end; returns the summary (also what the CLI prints)."""
    # Hundreds of thousands of small, long-lived, acyclic records: the cyclic collector
    # would rescan them again and again for nothing.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_detect(network, config, scans, complaints, out, dlq_path, now)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_detect(
    network: Network,
    config: RuleConfig,
    scans: str,
    complaints: str | None,
    out: str,
    dlq_path: str | None,
    now: datetime | None,
) -> dict[str, Any]:
    detection = Detection(network, config)
    stats = {"scans": InputStats(), "complaints": InputStats()}
    with open_out(dlq_path) as dlq:
        newest = read_events(scans, "scans", decode_scan, detection, dlq, stats["scans"])
        if complaints is not None:
            newest = max(
                newest,
                read_events(
                    complaints, "complaints", decode_complaint, detection, dlq, stats["complaints"]
                ),
            )
    analyses = detection.analyses()
    detected_at = now or datetime.now(UTC)
    violations = detection.violations(detected_at, analyses)
    with open_out(out) as sink:
        assert sink is not None
        for v in violations:
            sink.write(orjson.dumps(v) + b"\n")
    indicators = compute_indicators(analyses, network, config, newest if newest > 0 else 0.0)
    by_type = Counter(v["type"] for v in violations)
    by_rule = Counter(f"{v['type']}/{v['rule']}" for v in violations)
    by_carrier = Counter(v["carrier"] for v in violations)
    return {
        "inputs": {
            k: {
                "lines": s.lines,
                "valid": s.valid,
                "invalid": sum(s.invalid.values()),
                "invalid_by_reason": dict(sorted(s.invalid.items())),
            }
            for k, s in stats.items()
        },
        "parcels": detection.parcel_count,
        "violations": len(violations),
        "violations_by_type": dict(sorted(by_type.items())),
        "violations_by_rule": dict(sorted(by_rule.items())),
        "violations_by_carrier": dict(sorted(by_carrier.items())),
        "indicators": indicators,
    }


def print_summary(summary: dict[str, Any]) -> None:
    """A human summary on stderr."""
    t = Table(title="inputs", title_justify="left")
    for col in ("source", "lines", "valid", "invalid", "invalid by reason"):
        t.add_column(col)
    for src, s in summary["inputs"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in s["invalid_by_reason"].items()) or "-"
        t.add_row(src, str(s["lines"]), str(s["valid"]), str(s["invalid"]), reasons)
    console.print(t)
    t = Table(title=f"violations: {summary['violations']}", title_justify="left")
    t.add_column("type/rule")
    t.add_column("count", justify="right")
    for k, v in summary["violations_by_rule"].items():
        t.add_row(k, str(v))
    console.print(t)
    ind = summary["indicators"]
    tot = ind["totals"]
    towns = ind["towns"].values()
    full = sum(1 for x in towns if x["coverage"] == 1.0)
    rate = tot["on_time_rate"]
    console.print(
        f"parcels {ind['parcels']} (inbound {ind['inbound']}, outbound {ind['outbound']}); "
        f"deliveries {tot['deliveries']}; 72-hour on-time "
        f"{'-' if rate is None else f'{rate:.1%}'}; median end-to-end "
        f"{tot['end_to_end_median_h']} h; "
        f"towns at 100 % coverage (通达率) {full}/{len(ind['towns'])}; "
        f"complaints {sum(ind['complaints'].values())}"
    )
