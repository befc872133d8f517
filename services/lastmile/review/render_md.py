"""``--format md``: the review as one Markdown file, ``review.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lastmile.io.atomic import write_text
from lastmile.review.i18n import DEFAULT_LANG, Lang, pick
from lastmile.review.tables import Table, all_tables, fmt
from lastmile.review.text import SECTIONS, summary_lines, title


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(table: Table, lang: Lang) -> str:
    lines = [f"## {table.title}", ""]
    if not table.rows:
        return "\n".join([*lines, table.empty or SECTIONS["no_data"](lang), ""])
    lines.append("| " + " | ".join(_cell(h) for h in table.headers) + " |")
    lines.append("|" + "|".join("---:" if k != "text" else "---" for k in table.kinds) + "|")
    for row in table.rows:
        lines.append(
            "| "
            + " | ".join(_cell(fmt(v, k, lang)) for v, k in zip(row, table.kinds, strict=True))
            + " |"
        )
    lines.append("")
    return "\n".join(lines)


def render_md(review: dict[str, Any], lang: Lang = DEFAULT_LANG) -> str:
    parts = [f"# {title(review, lang)}", ""]
    parts += [f"- {line}" for line in summary_lines(review, lang)]
    parts.append("")
    parts += [md_table(t, lang) for t in all_tables(review, lang)]
    method = pick(review["ranking"]["method"], lang)
    parts += [f"## {SECTIONS['method'](lang)}", "", method, ""]
    if review["notes"]:
        notes = [f"- {pick(n, lang)}" for n in review["notes"]]
        parts += [f"## {SECTIONS['notes'](lang)}", "", *notes, ""]
    return "\n".join(parts)


def write_md(review: dict[str, Any], out_dir: Path, lang: Lang) -> list[Path]:
    path = out_dir / "review.md"
    write_text(path, render_md(review, lang))
    return [path]
