"""`lastmile review` against an empty (or the wrong) Redis says so and exits 1."""

from __future__ import annotations

import uuid
from pathlib import Path

from typer.testing import CliRunner

from lastmile.cli import app


def test_review_of_an_empty_redis_exits_1_and_writes_nothing(
    redis_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    env = {
        "LASTMILE_REDIS_URL": redis_url,
        "LASTMILE_REDIS_PREFIX": f"t{uuid.uuid4().hex[:12]}",  # nothing under it
        "LASTMILE_REVIEW_KEY_FILE": str(tmp_path / "review.key"),
    }
    result = CliRunner().invoke(
        app,
        [
            "review",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-15",
            "--format",
            "json",
            "--out",
            str(out),
        ],
        env=env,
    )
    assert result.exit_code == 1, result.output
    assert "no data for" in result.output and "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())
