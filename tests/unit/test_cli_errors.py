"""Every CLI command through a matrix of bad inputs, unreachable services and unwritable
paths: one clear line (plus a hint), exit status 2 (usage) or 1 (runtime), never a
traceback. Each case runs `lastmile.cli.main` in this process, as the console script does.

"Unreachable" services are closed ports on 127.0.0.1, so no service is needed.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from builders import TINY_NETWORK
from lastmile import cli

CLOSED = "127.0.0.1:1"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("cli")
    paths = {
        "net": d / "net.json",
        "scans": d / "scans.jsonl",
        "truth": d / "truth.jsonl",
        "binary": d / "binary.bin",
        "notjson": d / "not.jsonl",
        "deep": d / "deep.json",
        "yamltag": d / "tag.yaml",
        "rules_nan": d / "nan.yaml",
        "rules_inf": d / "inf.yaml",
        "empty": d / "empty.jsonl",
        "readonly_dir": d / "adir",
    }
    paths["net"].write_text(json.dumps(TINY_NETWORK))
    paths["scans"].write_text("{}\n")
    paths["truth"].write_text('{"violation_id": "V1", "type": "extra_fee"}\n')
    paths["binary"].write_bytes(b"\x00\xff\xfe" * 100)
    paths["notjson"].write_text("not json\n[1,2]\n")
    paths["deep"].write_text("[" * 100_000 + "]" * 100_000)
    paths["yamltag"].write_text("!!python/object/apply:os.system ['true']\n")
    paths["rules_nan"].write_text("far_from_address_m: .nan\n")
    paths["rules_inf"].write_text("bulk_min_signoffs: .inf\n")
    paths["empty"].write_text("")
    paths["readonly_dir"].mkdir()
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    old = sys.argv
    sys.argv = ["lastmile", *argv]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return code, out.out + out.err


def cases(f: dict[str, str], tmp: Path) -> list[tuple[str, list[str], dict[str, str], int]]:
    ro = f["readonly_dir"]  # a directory: not a file to read or write
    nowrite = f["scans"] + "/sub"  # under a regular file: unwritable even for root
    detect = ["detect", "--network", f["net"], "--scans", f["scans"]]
    return [
        # detect
        ("detect: missing options", ["detect"], {}, 2),
        ("detect: no such scans", [*detect[:3], "--scans", "/nope", "--out", "-"], {}, 2),
        ("detect: unwritable --out", [*detect, "--out", f"{nowrite}/v.jsonl"], {}, 1),
        ("detect: --out is a directory", [*detect, "--out", ro], {}, 1),
        ("detect: unwritable --dlq", [*detect, "--out", "-", "--dlq", f"{nowrite}/d.jsonl"], {}, 1),
        ("detect: --dlq is --scans", [*detect, "--out", "-", "--dlq", f["scans"]], {}, 2),
        (
            "detect: unwritable summary",
            [*detect, "--out", "-", "--summary-json", f"{nowrite}/s"],
            {},
            1,
        ),
        (
            "detect: binary network",
            ["detect", "--network", f["binary"], "--scans", f["scans"], "--out", "-"],
            {},
            2,
        ),
        (
            "detect: deep network",
            ["detect", "--network", f["deep"], "--scans", f["scans"], "--out", "-"],
            {},
            2,
        ),
        (
            "detect: YAML tag network",
            ["detect", "--network", f["yamltag"], "--scans", f["scans"], "--out", "-"],
            {},
            2,
        ),
        (
            "detect: network is a directory",
            ["detect", "--network", ro, "--scans", f["scans"], "--out", "-"],
            {},
            2,
        ),
        ("detect: rules nan", [*detect, "--out", "-", "--config", f["rules_nan"]], {}, 2),
        ("detect: rules inf", [*detect, "--out", "-", "--config", f["rules_inf"]], {}, 2),
        ("detect: rules YAML tag", [*detect, "--out", "-", "--config", f["yamltag"]], {}, 2),
        ("detect: rules binary", [*detect, "--out", "-", "--config", f["binary"]], {}, 2),
        (
            "detect: scans is a directory",
            ["detect", "--network", f["net"], "--scans", ro, "--out", "-"],
            {},
            2,
        ),
        # simulate
        (
            "simulate: too many days",
            ["simulate", "--network", f["net"], "--out", str(tmp / "s"), "--days", "100000"],
            {},
            2,
        ),
        (
            "simulate: too many parcels",
            [
                "simulate",
                "--network",
                f["net"],
                "--out",
                str(tmp / "s"),
                "--days",
                "366",
                "--parcels-per-day",
                "1000000",
            ],
            {},
            2,
        ),
        (
            "simulate: bad rate",
            [
                "simulate",
                "--network",
                f["net"],
                "--out",
                str(tmp / "s"),
                "--rate",
                "fee_charged=nan",
            ],
            {},
            2,
        ),
        (
            "simulate: bad start",
            ["simulate", "--network", f["net"], "--out", str(tmp / "s"), "--start", "2026-13-40"],
            {},
            2,
        ),
        (
            "simulate: unwritable out",
            [
                "simulate",
                "--network",
                f["net"],
                "--out",
                f"{nowrite}/sim",
                "--parcels-per-day",
                "100",
            ],
            {},
            1,
        ),
        # score
        ("score: missing truth", ["score", "--truth", "/nope", "--violations", f["truth"]], {}, 1),
        (
            "score: binary truth",
            ["score", "--truth", f["binary"], "--violations", f["truth"]],
            {},
            2,
        ),
        ("score: not JSON", ["score", "--truth", f["notjson"], "--violations", f["truth"]], {}, 2),
        ("score: deep JSON", ["score", "--truth", f["deep"], "--violations", f["truth"]], {}, 2),
        ("score: directory", ["score", "--truth", ro, "--violations", f["truth"]], {}, 1),
        (
            "score: lines lack fields",
            ["score", "--truth", f["scans"], "--violations", f["scans"]],
            {},
            2,
        ),
        # publish
        ("publish: nothing", ["publish"], {}, 2),
        (
            "publish: Kafka down",
            ["publish", "--scans", f["scans"]],
            {"LASTMILE_KAFKA_BOOTSTRAP": CLOSED},
            1,
        ),
        (
            "publish: bad rate",
            ["publish", "--scans", f["scans"], "--rate", "-5"],
            {"LASTMILE_KAFKA_BOOTSTRAP": CLOSED},
            2,
        ),
        # keys / webhooks with Redis down, and bad arguments
        (
            "keys issue: Redis down",
            ["keys", "issue", "--regulator"],
            {"LASTMILE_REDIS_URL": f"redis://{CLOSED}/0"},
            1,
        ),
        (
            "keys list: Redis down",
            ["keys", "list"],
            {"LASTMILE_REDIS_URL": f"redis://{CLOSED}/0"},
            1,
        ),
        (
            "keys revoke: Redis down",
            ["keys", "revoke", "k_1"],
            {"LASTMILE_REDIS_URL": f"redis://{CLOSED}/0"},
            1,
        ),
        ("keys issue: both roles", ["keys", "issue", "--regulator", "--carrier", "ZTO"], {}, 2),
        (
            "keys issue: bad carrier",
            ["keys", "issue", "--carrier", "A B"],
            {"LASTMILE_REDIS_URL": f"redis://{CLOSED}/0"},
            2,
        ),
        (
            "webhooks list: Redis down",
            ["webhooks", "list"],
            {"LASTMILE_REDIS_URL": f"redis://{CLOSED}/0"},
            1,
        ),
        (
            "webhooks delete: Redis down",
            ["webhooks", "delete", "ZTO"],
            {"LASTMILE_REDIS_URL": f"redis://{CLOSED}/0"},
            1,
        ),
        # review
        (
            "review: Redis down",
            [
                "review",
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-15",
                "--out",
                str(tmp / "r"),
                "--network",
                f["net"],
            ],
            {"LASTMILE_REDIS_URL": f"redis://{CLOSED}/0"},
            1,
        ),
        (
            "review: bad date",
            [
                "review",
                "--from",
                "2026-02-30",
                "--to",
                "2026-03-01",
                "--out",
                str(tmp / "r"),
                "--network",
                f["net"],
            ],
            {},
            2,
        ),
        (
            "review: bad format",
            [
                "review",
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-15",
                "--format",
                "docx",
                "--out",
                str(tmp / "r"),
            ],
            {},
            2,
        ),
        (
            "review: empty replay",
            ["review", "--scans", f["empty"], "--out", str(tmp / "r"), "--network", f["net"]],
            {},
            2,
        ),
        (
            "review: binary replay",
            ["review", "--scans", f["binary"], "--out", str(tmp / "r"), "--network", f["net"]],
            {},
            2,
        ),
        # bad LASTMILE_* variables, for every command that reads settings
        ("worker: bad port", ["worker"], {"LASTMILE_WEB_PORT": "http"}, 2),
        ("worker: bad store", ["worker"], {"LASTMILE_STORE": "s3://x"}, 2),
        ("api: bad port", ["api"], {"LASTMILE_API_PORT": "99999"}, 2),
        ("keys: bad timeout", ["keys", "list"], {"LASTMILE_REDIS_TIMEOUT_S": "nan"}, 2),
        (
            "publish: bad URL",
            ["publish", "--scans", f["scans"]],
            {"LASTMILE_REDIS_URL": "http://x"},
            2,
        ),
        (
            "review: bad hold",
            ["review", "--from", "2026-11-01", "--to", "2026-11-15", "--out", str(tmp / "r")],
            {"LASTMILE_HOLD_S": "-1"},
            2,
        ),
        ("demo: bad partitions", ["demo"], {"LASTMILE_PARTITIONS": "many"}, 2),
        # unknown command / option
        ("unknown command", ["frobnicate"], {}, 2),
        ("unknown option", ["detect", "--frob"], {}, 2),
    ]


CASE_NAMES = [
    c[0]
    for c in cases(
        {
            k: "x"
            for k in (
                "net",
                "scans",
                "truth",
                "binary",
                "notjson",
                "deep",
                "yamltag",
                "rules_nan",
                "rules_inf",
                "empty",
                "readonly_dir",
            )
        },
        Path("/x"),
    )
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_command_fails_with_one_line_and_no_traceback(
    name: str,
    files: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ((_, argv, env, want),) = [c for c in cases(files, tmp_path) if c[0] == name]
    for var in [v for v in os.environ if v.startswith("LASTMILE_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("LASTMILE_REVIEW_KEY_FILE", str(tmp_path / "review.key"))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    code, output = run(argv, capsys)
    assert "Traceback" not in output, output
    assert code == want, (code, output)
    errors = [
        line
        for line in output.splitlines()
        if line.startswith(("error", "Error", "│ Error", "╭", "Usage"))
    ]
    assert errors, output  # it said what is wrong
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) <= 8, output  # a short message, not a dump


def test_debug_shows_the_traceback(
    files: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LASTMILE_REDIS_URL", f"redis://{CLOSED}/0")
    monkeypatch.setattr(cli, "app", _raising_app)
    with pytest.raises(RuntimeError):
        run(["--debug", "anything"], capsys)
    code, output = run(["anything"], capsys)
    assert code == 1 and "RuntimeError: boom" in output and "--debug" in output


def _raising_app() -> None:
    raise RuntimeError("boom\nsecond line")


def test_busy_api_port_is_one_line(
    busy_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LASTMILE_REDIS_URL", f"redis://{CLOSED}/0")
    code, output = run(["api", "--port", str(busy_port), "--metrics-port", "0"], capsys)
    assert "Traceback" not in output
    assert code in (1, 2) and "error" in output
