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
from lastmile.contract.decode import carrier_of_invalid, decode_complaint, decode_scan
from lastmile.domain.data_quality import DataQualityTally, data_quality_figures
from lastmile.domain.engine import Detection
from lastmile.domain.events import Event, ScanEvent
from lastmile.domain.indicators import compute_indicators
from lastmile.domain.network import Network
from lastmile.domain.outbound import outbound_figures, outbound_parcel
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
    # processing time (contract §7 clock skew): --as-of, else the time of this run
    as_of = now or datetime.now(UTC)
    tally = DataQualityTally(network, config, as_of.timestamp())

    def on_scan(event: Event) -> None:
        if isinstance(event, ScanEvent):
            tally.scan(event)

    def on_invalid(raw: bytes, reason: str) -> None:
        tally.invalid(carrier_of_invalid(raw), reason)

    with open_out(dlq_path) as dlq:
        newest = read_events(
            scans, "scans", decode_scan, detection, dlq, stats["scans"], on_scan, on_invalid
        )
        if complaints is not None:
            newest = max(
                newest,
                read_events(
                    complaints, "complaints", decode_complaint, detection, dlq, stats["complaints"]
                ),
            )
    analyses = detection.analyses()
    violations = detection.violations(as_of, analyses)
    with open_out(out) as sink:
        assert sink is not None
        for v in violations:
            sink.write(orjson.dumps(v) + b"\n")
    # "now" of the indicators: the newest event time, unless a clock running ahead of the
    # processing time made it (then the newest scan that is not ahead)
    if tally.clock.known and newest > as_of.timestamp() + config.clock_skew_s:
        newest = tally.clock.newest
    indicators = compute_indicators(analyses, network, config, newest if newest > 0 else 0.0)
    outbound = (outbound_parcel(a.path, network) for a in analyses)
    indicators["outbound"] = outbound_figures(
        (p for p in outbound if p is not None), config, tally.clock.newest
    )
    indicators["data_quality"] = data_quality_figures(
        tally.carriers, tally.point_last, tally.clock, network, config
    )
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
    _print_produce(ind["outbound"], ind["data_quality"])


def _print_produce(out: dict[str, Any], dq: dict[str, Any]) -> None:
    """Contract §7: outbound farm produce (农产品上行) and data quality, on stderr."""
    tot = out["totals"]
    share = tot["perishable_out_share"]
    console.print(
        f"outbound produce {tot['collected']} (perishable {tot['perishable']}); first mile "
        f"median {tot['first_mile_median_h']} h, p90 {tot['first_mile_p90_h']} h; perishable "
        f"stalled now {tot['perishable_stalled_now']}, ever {tot['perishable_stalled_ever']}; "
        f"out within target {'-' if share is None else f'{share:.1%}'}"
    )
    flagged = {c: q["flags"] for c, q in dq["by_carrier"].items() if q["flags"]}
    console.print(
        f"data quality: silent village points {len(dq['silent_points'])}; flagged carriers "
        + (", ".join(f"{c} ({', '.join(f)})" for c, f in flagged.items()) or "none")
    )
