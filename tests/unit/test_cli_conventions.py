"""CLI conventions: `--version`; `--network` from LASTMILE_NETWORK when not given; `simulate`
reports progress and a summary also when its output is not a terminal (a pipe, a log, CI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from builders import TINY_NETWORK

LASTMILE = [sys.executable, "-m", "lastmile.cli"]


def lastmile(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command in a child process whose stdout and stderr are pipes, not a terminal.

    LASTMILE_NETWORK is unset unless `env` sets it.
    """
    base = {k: v for k, v in os.environ.items() if k != "LASTMILE_NETWORK"}
    return subprocess.run(
        [*LASTMILE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("net") / "tiny.network.json"
    path.write_text(json.dumps(TINY_NETWORK))
    return path


def test_version_prints_the_package_version() -> None:
    done = lastmile("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"lastmile {version('lastmile')}"


def test_simulate_and_detect_take_the_network_from_lastmile_network(
    tiny: Path, tmp_path: Path
) -> None:
    env = {"LASTMILE_NETWORK": str(tiny)}
    sim = lastmile("simulate", "--out", str(tmp_path / "s"), "--parcels-per-day", "50", env=env)
    assert sim.returncode == 0, sim.stderr
    scans = tmp_path / "s" / "scans.jsonl"
    nodes = {json.loads(x).get("node_id") for x in scans.read_text().splitlines()}
    assert {"T-E", "T-W"} <= nodes, "the scans are not of the LASTMILE_NETWORK network"

    by_variable = lastmile("detect", "--scans", str(scans), "--out", "-", env=env)
    by_option = lastmile("detect", "--network", str(tiny), "--scans", str(scans), "--out", "-")
    bundled = lastmile("detect", "--scans", str(scans), "--out", "-")
    assert by_variable.returncode == by_option.returncode == 0, by_variable.stderr
    found = ids(by_variable.stdout)
    assert found and found == ids(by_option.stdout)
    assert ids(bundled.stdout) != found  # the bundled sample network judges otherwise


def ids(jsonl: str) -> set[str]:
    return {json.loads(line)["violation_id"] for line in jsonl.splitlines() if line.strip()}


def test_a_bad_lastmile_network_is_named_when_network_is_not_given(tmp_path: Path) -> None:
    env = {"LASTMILE_NETWORK": str(tmp_path / "missing.json")}
    done = lastmile("simulate", "--out", str(tmp_path / "s"), env=env)
    assert done.returncode == 2
    assert "missing.json" in done.stderr and "Traceback" not in done.stderr


def test_network_option_wins_over_the_variable(tiny: Path, tmp_path: Path) -> None:
    env = {"LASTMILE_NETWORK": str(tmp_path / "missing.json")}
    done = lastmile(
        "simulate", "--network", str(tiny), "--out", str(tmp_path / "s"),
        "--parcels-per-day", "20", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_simulate_reports_progress_and_a_summary_when_not_on_a_terminal(
    tiny: Path, tmp_path: Path
) -> None:
    done = lastmile(
        "simulate", "--network", str(tiny), "--out", str(tmp_path / "s"),
        "--parcels-per-day", "200",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    progress = done.stderr.splitlines()
    assert "simulating parcels: 0% (0/200)" in progress
    assert "simulating parcels: 50% (100/200)" in progress
    assert "simulating parcels: 100% (200/200)" in progress
    assert "writing files: done" in progress
    assert "\x1b[" not in done.stderr  # plain lines, no terminal control codes
    lines = len((tmp_path / "s" / "scans.jsonl").read_text().splitlines())
    assert done.stdout.startswith(f"wrote {tmp_path / 's'}: {lines} scan lines")


def test_faust_command_line_with_a_bad_setting_is_one_line(tmp_path: Path) -> None:
    faust = str(Path(sys.executable).parent / "faust")
    done = subprocess.run(
        [faust, "-A", "lastmile.worker.faust_app", "tables"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "LASTMILE_NETWORK": str(tmp_path / "missing.json")},
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: cannot read network file {tmp_path / 'missing.json'}: No such file or directory"
        " (docs/configuration.md)"
    ]
