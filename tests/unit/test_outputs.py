"""Outputs never overwrite an input, and an interrupted write never leaves a half file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_detect_command import write_inputs
from typer.testing import CliRunner

from lastmile.cli import app
from lastmile.io.atomic import SamePathError, atomic_open, check_outputs

runner = CliRunner()


def detect(net: Path, scans: Path, *extra: str) -> tuple[int, str]:
    args = ["detect", "--network", str(net), "--scans", str(scans), *extra]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


@pytest.mark.parametrize("option", ["--dlq", "--out", "--summary-json"])
def test_an_output_equal_to_the_scans_leaves_the_input_intact(tmp_path: Path, option: str) -> None:
    net, scans, _ = write_inputs(tmp_path)
    before = scans.read_bytes()
    extra = {"--out": [], "--dlq": ["--out", str(tmp_path / "v.jsonl")]}.get(
        option, ["--out", str(tmp_path / "v.jsonl")]
    )
    code, output = detect(net, scans, *extra, option, str(scans))
    assert code == 2
    assert "--scans" in output and "overwritten" in output
    assert scans.read_bytes() == before


def test_other_spellings_and_hard_links_of_an_input_are_refused(tmp_path: Path) -> None:
    net, scans, complaints = write_inputs(tmp_path)
    link = tmp_path / "link.jsonl"
    os.link(scans, link)
    before = scans.read_bytes()
    for same in (str(link), str(tmp_path / "." / "scans.jsonl"), str(net)):
        code, _ = detect(net, scans, "--out", str(tmp_path / "v.jsonl"), "--dlq", same)
        assert code == 2, same
    code, _ = detect(net, scans, "--complaints", str(complaints), "--out", str(complaints))
    assert code == 2
    assert scans.read_bytes() == before


def test_two_outputs_on_one_file_are_refused() -> None:
    with pytest.raises(SamePathError, match="--out and --dlq"):
        check_outputs([], [("--dlq", "/tmp/x.jsonl"), ("--out", "/tmp/./x.jsonl")])
    check_outputs([("--scans", "-")], [("--out", "-")])  # stdin/stdout are not files


def test_an_interrupted_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "v.jsonl"
    target.write_bytes(b"good\n")
    with pytest.raises(RuntimeError), atomic_open(target) as f:
        f.write(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"good\n"
    assert os.listdir(tmp_path) == ["v.jsonl"]  # no temporary file left behind
    with atomic_open(target) as f:
        f.write(b"new\n")
    assert target.read_bytes() == b"new\n"
