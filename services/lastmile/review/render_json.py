"""``--format json``: the review dict as one file, ``review.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from lastmile.io.atomic import write_bytes
from lastmile.review.i18n import Lang


def write_json(review: dict[str, Any], out_dir: Path, lang: Lang) -> list[Path]:
    """Language-neutral: notes and the ranking method carry both editions, whatever `lang`."""
    path = out_dir / "review.json"
    write_bytes(path, orjson.dumps(review, option=orjson.OPT_INDENT_2) + b"\n")
    return [path]
