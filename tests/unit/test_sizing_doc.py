"""docs/operations.md's sizing table is exactly what bench/sizing.py computes from the
measured figures, so the page cannot drift from its inputs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sizing_module():
    spec = importlib.util.spec_from_file_location("sizing", ROOT / "bench" / "sizing.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_sizing_table_is_the_scripts_output() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    begin = "<!-- sizing:begin (bench/sizing.py) -->\n"
    end = "\n<!-- sizing:end -->"
    assert begin in doc and end in doc
    shown = doc.split(begin, 1)[1].split(end, 1)[0]
    assert shown == sizing_module().table()


def test_sizing_grows_with_the_traffic() -> None:
    s = sizing_module()
    county, province, nation = s.SCALES
    assert county.workers <= province.workers <= nation.workers
    assert county.partitions % 12 == 0 and county.partitions >= county.workers
    for scale in s.SCALES:
        assert scale.partitions >= (scale.workers - s.SPARE_WORKERS) * s.PARTITION_ROOM
        assert scale.redis_violations_gib < scale.redis_gib
