"""``lastmile demo``: the whole pipeline on the sample county, on the local stack.

Simulates a day of traffic, makes sure a worker runs (starting one in the background if
none answers on LASTMILE_WEB_PORT), streams the day through Kafka, waits for the
violations, checks them against ``detect`` on the same files, writes a review from the
Redis read models, and says where to look next. The stack and the worker stay up until
``make down``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table

from lastmile.commands.detect import run_detect
from lastmile.commands.publish import publish
from lastmile.console import console
from lastmile.io.files import load_network, load_rule_config
from lastmile.io.kafka import read_topic
from lastmile.io.kafka_access import kafka_access
from lastmile.settings import Settings
from lastmile.simulator.command import run_simulate_command


def _healthz(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return orjson.loads(r.read())  # type: ignore[no-any-return]
    except OSError:
        return None


def ensure_worker(settings: Settings, run_dir: Path, timeout: float = 120) -> str:
    """A ready worker on the web port: the one already there, or a new background one."""
    health = _healthz(settings.web_port)
    if health is not None and health.get("ready"):
        return "already running"
    if health is None:
        logs, pids = run_dir / "logs", run_dir / "pids"
        logs.mkdir(parents=True, exist_ok=True)
        pids.mkdir(parents=True, exist_ok=True)
        env = dict(
            os.environ,
            LASTMILE_DATA_DIR=os.environ.get("LASTMILE_DATA_DIR", str(run_dir / "worker-data")),
        )
        with (logs / "worker.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "lastmile.cli", "worker", "--loglevel", "warning"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        (pids / "app-worker.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = _healthz(settings.web_port)
        if health is not None and health.get("ready"):
            return f"started (logs: {run_dir / 'logs' / 'worker.log'})"
        time.sleep(0.5)
    raise TimeoutError(
        f"no ready worker on port {settings.web_port}; see {run_dir}/logs/worker.log"
    )


def _scrape(port: int) -> dict[str, list[tuple[str, float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, list[tuple[str, float]]] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        out.setdefault(name, []).append((name_labels, float(value)))
    return out


def run_demo(settings: Settings, run_dir: Path, parcels: int = 4000, seed: int = 1) -> int:
    out = run_dir / "demo"
    network = load_network(settings.network)
    config = load_rule_config(settings.rules)
    day = date.today() - timedelta(days=1)
    console.rule("[bold]lastmile demo: 快递进村 delivery-quality monitor")
    console.print(
        f"1/5 simulating {parcels} parcels of {network.county_name} on {day} (seed {seed})"
    )
    sim = run_simulate_command(settings.network, 1, parcels, seed, str(out), day.isoformat(), {})
    scans, complaints = out / "scans.jsonl", out / "complaints.jsonl"
    console.print("2/5 offline answer: lastmile detect on the same files")
    offline = run_detect(
        network,
        config,
        str(scans),
        str(complaints),
        str(out / "detected.jsonl"),
        str(out / "dlq.jsonl"),
    )
    expected = {
        orjson.loads(x)["violation_id"] for x in (out / "detected.jsonl").read_bytes().splitlines()
    }
    console.print(f"3/5 worker on :{settings.web_port}: {ensure_worker(settings, run_dir)}")
    console.print(f"4/5 streaming to Kafka at {settings.kafka_bootstrap}")
    started = time.monotonic()
    kafka = kafka_access(settings)
    asyncio.run(publish(kafka, str(scans), str(complaints), None, settings.topic_prefix))
    console.print("5/5 waiting for the worker's violations on violations.v1")
    streamed: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        recs = asyncio.run(read_topic(kafka, settings.topic("violations.v1")))
        streamed = {
            v["violation_id"]: v
            for v in (orjson.loads(r.value) for r in recs)
            if v["violation_id"] in expected
        }
        if len(streamed) >= len(expected):
            break
        time.sleep(1)
    elapsed = time.monotonic() - started
    _summary(settings, offline, expected, streamed, sim, elapsed)
    review_dir = out / "review"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "lastmile.cli",
            "review",
            "--from",
            day.isoformat(),
            "--to",
            (day + timedelta(days=3)).isoformat(),
            "--format",
            "html",
            "--format",
            "json",
            "--out",
            str(review_dir),
        ],
        check=False,
        capture_output=True,
    )
    console.print("\n[bold]Where to look next[/]")
    console.print(f"  metrics      http://127.0.0.1:{settings.web_port}/metrics")
    prom = os.environ.get("LASTMILE_PROMETHEUS_PORT", "9090")
    console.print(
        f"  Prometheus   http://127.0.0.1:{prom}  (rules and alerts from deploy/prometheus)"
    )
    console.print(f"  review       {review_dir}/ (html, json; `lastmile review --help`)")
    console.print(
        "  API          lastmile keys issue --regulator; lastmile api  → http://127.0.0.1:"
        f"{settings.api_port}/openapi.json"
    )
    console.print(f"  files        {out}/ (scans, complaints, truth, detected, dlq)")
    console.print("  stop         make down   (wipe data: make clean)")
    return 0 if len(streamed) == len(expected) else 1


def _summary(
    settings: Settings,
    offline: dict[str, Any],
    expected: set[str],
    streamed: dict[str, dict[str, Any]],
    sim: dict[str, Any],
    elapsed: float,
) -> None:
    inputs = offline["inputs"]
    events = inputs["scans"]["lines"] + inputs["complaints"]["lines"]
    invalid = inputs["scans"]["invalid"] + inputs["complaints"]["invalid"]
    t = Table(
        title=f"streamed violations: {len(streamed)} (offline detect: {len(expected)})",
        title_justify="left",
    )
    carriers = sorted({v["carrier"] for v in streamed.values()})
    t.add_column("type")
    for c in carriers:
        t.add_column(c, justify="right")
    t.add_column("total", justify="right")
    by = Counter((v["type"], v["carrier"]) for v in streamed.values())
    for vtype in ("wrong_address", "false_signoff", "extra_fee"):
        row = [by[(vtype, c)] for c in carriers]
        t.add_row(vtype, *map(str, row), str(sum(row)))
    console.print(t)
    metrics = _scrape(settings.web_port)
    coverage = [v for _, v in metrics.get("lastmile_village_coverage_ratio", [])]
    within = sum(v for _, v in metrics.get("lastmile_delivered_within_72h_total", []))
    measured = sum(v for _, v in metrics.get("lastmile_end_to_end_seconds_count", []))
    agree = "[green]agrees[/]" if set(streamed) == expected else "[red]DIFFERS[/]"
    console.print(
        f"events {events} (invalid {invalid}, dead-lettered on scans.v1.dlq/complaints.v1.dlq) "
        f"streamed in {elapsed:.1f} s; the live answer {agree} with offline detect; "
        f"truth has {sim['violations']['total']} injected violations"
    )
    if coverage:
        console.print(
            f"village coverage (通达率): {sum(1 for c in coverage if c >= 1)}/{len(coverage)} "
            f"towns at 100 %, lowest {min(coverage):.0%}"
        )
    if measured:
        console.print(
            f"72-hour on-time rate (准时率): {within / measured:.1%} of {int(measured)} "
            "deliveries with a county-centre arrival"
        )
