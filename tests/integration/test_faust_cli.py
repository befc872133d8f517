"""Faust's own command line against the worker's module-level app (lastmile.worker.faust_app).

`faust -A lastmile.worker.faust_app worker` runs the same app as `lastmile worker`: on a
fresh topic prefix it creates the topics, becomes ready and publishes exactly detect's
violations; `faust ... tables` lists the worker's tables.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from workers import Scenario, free_port, simulated_traffic

FAUST = str(Path(sys.executable).parent / "faust")
APP = "lastmile.worker.faust_app"


@pytest.fixture
def scenario(kafka_bootstrap, redis_url, tmp_path):
    s = Scenario(kafka_bootstrap, redis_url, tmp_path)
    yield s
    s.stop_all()


def test_faust_tables_lists_the_worker_tables(scenario, tmp_path):
    out = subprocess.run(
        [FAUST, "-A", APP, "tables"],
        env=scenario.env(free_port()),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "parcels" in out.stdout and "couriers" in out.stdout


def test_faust_worker_runs_the_worker_and_publishes_detects_violations(scenario, tmp_path):
    traffic = simulated_traffic(tmp_path / "traffic", seed=5, parcels=400)
    expected = {
        orjson.loads(x)["violation_id"]
        for x in (traffic / "detected.jsonl").read_bytes().splitlines()
        if x.strip()
    }
    assert len(expected) > 5
    scenario.start_worker(argv=[FAUST, "-A", APP, "worker", "--loglevel", "warn"])
    scenario.publish(traffic / "scans.jsonl", traffic / "complaints.jsonl")
    found = [
        orjson.loads(r.value)["violation_id"]
        for r in scenario.wait_for("violations.v1", len(expected))
    ]
    assert len(found) == len(set(found)) and set(found) == expected
