"""Soak: one worker under a steady simulated load across several days of event time.

Needs a running local stack (``make soak`` starts one on ports of its own and wipes it after):

    LASTMILE_KAFKA_BOOTSTRAP=127.0.0.1:39192 LASTMILE_REDIS_URL=redis://127.0.0.1:36392/0 \\
      .venv/bin/python bench/soak.py --minutes 60 --rate 200 --days 12 --retention-days 1

A simulated county of ``--days`` days is produced with the project's ``publish`` at ``--rate``
scans/s (so ``--minutes`` of wall time carry the days of event time), into one
``lastmile worker`` (RocksDB store) whose parcel retention is ``--retention-days`` (a rules file
of the soak's own): once the event time has moved past it, expired parcels leave the state,
so memory must level off. Every ``--interval`` seconds it prints the worker's RSS, its table
store on disk (RocksDB + changelog offsets), Redis's used memory and key count, events
processed, the event day reached, the parcels in the worker's state and its RocksDB memory
(``lastmile_state_parcels``, ``lastmile_rocksdb_memory_bytes``); at the end a CSV, a PNG
(``--plot``) and the same table in Markdown (``--markdown``).
Everything runs on 127.0.0.1; names carry a fresh run id so runs never mix.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parents[1]
NETWORK = REPO / "services" / "lastmile" / "data" / "yiyuan.network.json"
EVENTS_PER_PARCEL = 6.9  # measured on the simulator's output (scans lines / parcels)
COLUMNS = (
    "minute",
    "events",
    "event_day",
    "rss_mib",
    "store_mib",
    "redis_mib",
    "redis_keys",
    "state_parcels",
    "rocksdb_mib",
)
HEADINGS = (
    "minute",
    "events",
    "event day",
    "worker RSS MiB",
    "table store MiB",
    "Redis MiB",
    "Redis keys",
    "parcels in state",
    "RocksDB memory MiB",
)
SCRAPED = (
    "lastmile_events_processed_total",
    "lastmile_last_event_timestamp_seconds",
    "lastmile_state_parcels",
    "lastmile_rocksdb_memory_bytes",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "lastmile.cli", *args], check=True, capture_output=True)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def dir_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        for name in SCRAPED:
            if line.startswith((name + " ", name + "{")):
                out[name] = out.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the worker exited with {proc.returncode}")
        try:
            scrape(port)
            return
        except OSError:
            time.sleep(1)
    raise SystemExit("the worker did not answer in time")


def markdown(rows: list[dict[str, float]], path: Path) -> None:
    """The per-minute table as docs/reliability.md shows it."""
    lines = ["| " + " | ".join(HEADINGS) + " |", "|" + "---:|" * len(HEADINGS)]
    for r in rows:
        cells = [f"{r['minute']:.0f}", f"{r['events']:,.0f}", f"{r['event_day']:.1f}"]
        cells += [f"{r[c]:.1f}" for c in ("rss_mib", "store_mib", "redis_mib")]
        cells += [f"{r[c]:,.0f}" for c in ("redis_keys", "state_parcels")]
        cells.append(f"{r['rocksdb_mib']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def plot(rows: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [r["minute"] for r in rows]
    fig, axes = plt.subplots(4, 1, figsize=(8, 10), sharex=True)
    for ax, key, label in (
        (axes[0], "rss_mib", "worker RSS (MiB)"),
        (axes[1], "store_mib", "table store on disk (MiB)"),
        (axes[2], "redis_mib", "Redis used memory (MiB)"),
        (axes[3], "state_parcels", "parcels in state"),
    ):
        ax.plot(minutes, [r[key] for r in rows], marker=".", label=label)
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)  # from zero: a level line looks level, growth looks its size
        ax.grid(alpha=0.3)
    axes[0].plot(minutes, [r["rocksdb_mib"] for r in rows], label="of which RocksDB (MiB)")
    axes[0].legend(loc="lower right", fontsize="small")
    days = axes[0].twiny()
    days.set_xlim(axes[0].get_xlim())
    ticks = minutes[:: max(1, len(minutes) // 8)]
    days.set_xticks(ticks)
    days.set_xticklabels([f"{rows[minutes.index(t)]['event_day']:.1f}" for t in ticks])
    days.set_xlabel("event time reached (simulated day)")
    axes[-1].set_xlabel("wall time (minutes)")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=200.0, help="scans per second")
    ap.add_argument("--days", type=int, default=12, help="simulated days of event time")
    ap.add_argument("--retention-days", type=float, default=1.0)
    ap.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    ap.add_argument("--out", default=str(REPO / ".cache" / "soak"))
    ap.add_argument("--plot", default=None, help="PNG to write (default: OUT/soak.png)")
    ap.add_argument("--markdown", default=None, help="per-minute table (default: OUT/soak.md)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()

    kafka = os.environ.get("LASTMILE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    redis_url = os.environ.get("LASTMILE_REDIS_URL", "redis://127.0.0.1:6379/0")
    run = f"soak{uuid.uuid4().hex[:8]}"
    out = Path(args.out) / run
    out.mkdir(parents=True)
    total = args.rate * args.minutes * 60
    per_day = max(1, math.ceil(total / args.days / EVENTS_PER_PARCEL))
    print(f"[soak] {run}: simulating {args.days} days x {per_day} parcels/day", flush=True)
    cli(
        "simulate",
        "--network",
        str(NETWORK),
        "--days",
        str(args.days),
        "--parcels-per-day",
        str(per_day),
        "--seed",
        str(args.seed),
        "--out",
        str(out / "traffic"),
    )
    rules = out / "rules.yaml"
    rules.write_text(f"retention_days: {args.retention_days}\n")
    port = free_port()
    env = {
        **os.environ,
        "LASTMILE_KAFKA_BOOTSTRAP": kafka,
        "LASTMILE_REDIS_URL": redis_url,
        "LASTMILE_NETWORK": str(NETWORK),
        "LASTMILE_RULES": str(rules),
        "LASTMILE_WEB_PORT": str(port),
        "LASTMILE_STORE": "rocksdb://",
        "LASTMILE_DATA_DIR": str(out / "data"),
        "LASTMILE_APP_ID": run,
        "LASTMILE_TOPIC_PREFIX": f"{run}.",
        "LASTMILE_REDIS_PREFIX": run,
    }
    with (out / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "lastmile.cli", "worker", "--loglevel", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    rows: list[dict[str, float]] = []
    client = redis.Redis.from_url(redis_url)
    first_day: float | None = None
    try:
        wait_ready(port, worker)
        from lastmile.commands.publish import publish

        sender = threading.Thread(
            target=lambda: asyncio.run(
                publish(kafka, str(out / "traffic" / "scans.jsonl"), None, args.rate, f"{run}.")
            ),
            daemon=True,
        )
        start = time.monotonic()
        sender.start()
        print("[soak] " + "  ".join(f"{c:>10}" for c in COLUMNS), flush=True)
        while True:  # samples on a fixed beat, whatever a sample takes
            time.sleep(max(0.0, start + (len(rows) + 1) * args.interval - time.monotonic()))
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited with {worker.returncode}: see {out}")
            m = scrape(port)
            ts = m.get("lastmile_last_event_timestamp_seconds", 0.0)
            if ts and first_day is None:
                first_day = ts // 86400
            mem = client.info("memory")
            row = {
                "minute": (time.monotonic() - start) / 60,
                "events": m.get("lastmile_events_processed_total", 0.0),
                "event_day": (ts / 86400 - first_day) if ts and first_day is not None else 0.0,
                "rss_mib": rss_mib(worker.pid),
                "store_mib": dir_mib(out / "data"),
                "redis_mib": mem["used_memory"] / 2**20,
                "redis_keys": float(client.dbsize()),
                "state_parcels": m.get("lastmile_state_parcels", 0.0),
                "rocksdb_mib": m.get("lastmile_rocksdb_memory_bytes", 0.0) / 2**20,
            }
            rows.append(row)
            print("[soak] " + "  ".join(f"{row[c]:>10.1f}" for c in COLUMNS), flush=True)
            if not sender.is_alive() and row["minute"] >= args.minutes:
                break
            if not sender.is_alive() and len(rows) > 1 and rows[-2]["events"] == row["events"]:
                break  # everything sent and processed
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
        client.close()
    with (out / "soak.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = (
        f"lastmile soak {stamp}: {args.rate:.0f} scans/s, {args.days} simulated days, "
        f"retention {args.retention_days:g} d"
    )
    png = Path(args.plot) if args.plot else out / "soak.png"
    plot(rows, png, title)
    table = Path(args.markdown) if args.markdown else out / "soak.md"
    markdown(rows, table)
    print(f"[soak] wrote {out / 'soak.csv'}, {png} and {table}", flush=True)
    shutil.rmtree(out / "data", ignore_errors=True)
    shutil.rmtree(out / "traffic", ignore_errors=True)


if __name__ == "__main__":
    main()
