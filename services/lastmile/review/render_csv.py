"""``--format csv``: one CSV per table (UTF-8 with BOM, so spreadsheet programs show Chinese).

Raw values: rates as fractions (0.9731), empty cells for figures that are not available;
headers in the edition asked for.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from lastmile.io.atomic import atomic_open
from lastmile.review.i18n import Lang
from lastmile.review.tables import all_tables


def write_csv(review: dict[str, Any], out_dir: Path, lang: Lang) -> list[Path]:
    written = []
    for table in all_tables(review, lang):
        path = out_dir / f"review-{table.key}.csv"
        with atomic_open(path, "w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(table.headers)
            for row in table.rows:
                w.writerow(["" if v is None else v for v in row])
        written.append(path)
    return written
