"""``--format md``: the review as one Markdown file, ``review.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lastmile.io.atomic import write_text
from lastmile.review.tables import Table, all_tables, fmt
from lastmile.review.text import summary_lines, title


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(table: Table) -> str:
    lines = [f"## {table.title}", ""]
    if not table.rows:
        return "\n".join([*lines, "（无数据 no data）", ""])
    lines.append("| " + " | ".join(_cell(h) for h in table.headers) + " |")
    lines.append("|" + "|".join("---:" if k != "text" else "---" for k in table.kinds) + "|")
    for row in table.rows:
        lines.append(
            "| "
            + " | ".join(_cell(fmt(v, k)) for v, k in zip(row, table.kinds, strict=True))
            + " |"
        )
    lines.append("")
    return "\n".join(lines)


def render_md(review: dict[str, Any]) -> str:
    parts = [f"# {title(review)}", ""]
    parts += [f"- {line}" for line in summary_lines(review)]
    parts.append("")
    parts += [md_table(t) for t in all_tables(review)]
    parts += ["## 排名方法 Ranking method", "", review["ranking"]["method"], ""]
    if review["notes"]:
        parts += ["## 说明 Notes", "", *[f"- {n}" for n in review["notes"]], ""]
    return "\n".join(parts)


def write_md(review: dict[str, Any], out_dir: Path) -> list[Path]:
    path = out_dir / "review.md"
    write_text(path, render_md(review))
    return [path]
