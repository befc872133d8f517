"""``--format json``: the review dict as one file, ``review.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from lastmile.io.atomic import write_bytes


def write_json(review: dict[str, Any], out_dir: Path) -> list[Path]:
    path = out_dir / "review.json"
    write_bytes(path, orjson.dumps(review, option=orjson.OPT_INDENT_2) + b"\n")
    return [path]
