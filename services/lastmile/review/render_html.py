"""``--format html``: one self-contained page, ``review.html``, that prints on A4.

Tables come from ``tables.py`` (the same numbers as every other format); charts are
inline SVG from ``charts.py``. Printed (``--format pdf``, or from a browser), every page has
the county and period at the top and its page number at the bottom (CSS page margin boxes).
The template lives here as a string so an installed package needs no data files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from lastmile.io.atomic import write_text
from lastmile.review.charts import all_charts
from lastmile.review.i18n import DEFAULT_LANG, TOTAL, Lang, Text, pick
from lastmile.review.tables import all_tables, fmt
from lastmile.review.text import SECTIONS, scope_name, summary_lines, title

TEMPLATE = """<!DOCTYPE html>
<html lang="{{ html_lang }}">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
  @page {
    size: A4; margin: 16mm 12mm 14mm;
    @top-center { content: {{ running_head }}; font-family: {{ fonts }}; font-size: 8pt;
                  color: #555; }
    @bottom-center { content: {{ page_numbers }}; font-family: {{ fonts }}; font-size: 8pt;
                     color: #555; }
  }
  body { font-family: {{ fonts }}; font-size: 10pt; color: #111; max-width: 190mm; margin: 0 auto; }
  h1 { font-size: 15pt; margin: 0 0 4mm; }
  h2 { font-size: 12pt; margin: 6mm 0 2mm; border-bottom: 1px solid #999; }
  ul.meta { padding-left: 5mm; margin: 0; font-size: 9pt; }
  table { border-collapse: collapse; width: 100%; font-size: 7pt; margin-bottom: 3mm; }
  th, td { border: 1px solid #bbb; padding: 0.8mm 1mm; vertical-align: top; }
  th { overflow-wrap: anywhere; font-size: 7pt; }
  th { background: #eee; font-weight: 600; }
  td.n { text-align: right; white-space: nowrap; }
  tr.total td { font-weight: 600; background: #f6f6f6; }
  figure { margin: 3mm 0; page-break-inside: avoid; break-inside: avoid; }
  figure svg { width: 100%; height: auto; }
  figcaption { font-size: 8pt; color: #444; }
  section { page-break-inside: auto; }
  .method, .notes { font-size: 8.5pt; }
  @media print {
    body { max-width: none; }
    h2 { page-break-after: avoid; break-after: avoid; }
    tr { page-break-inside: avoid; break-inside: avoid; }
    thead { display: table-header-group; }
  }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<ul class="meta">{% for line in meta %}<li>{{ line }}</li>{% endfor %}</ul>
<section id="charts">
<h2>{{ sections.charts }}</h2>
{% for caption, svg in charts %}<figure class="chart">{{ svg }}
<figcaption>{{ caption }}</figcaption></figure>
{% else %}<p>{{ sections.no_data }}</p>{% endfor %}
</section>
{% for t in tables %}
<section id="{{ t.key }}">
<h2>{{ t.title }}</h2>
{% if t.rows %}
<table class="{{ t.key }}">
<thead><tr>{% for h in t.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in t.cells %}<tr{% if row.total %} class="total"{% endif %}>
{%- for c in row.cells %}<td{% if c.num %} class="n"{% endif %}>{{ c.text }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% else %}<p class="empty">{{ t.empty or sections.no_data }}</p>{% endif %}
</section>
{% endfor %}
<section id="method" class="method">
<h2>{{ sections.method }}</h2>
<p>{{ method }}</p>
</section>
{% if notes %}<section id="notes" class="notes">
<h2>{{ sections.notes }}</h2>
<ul>{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>
</section>{% endif %}
</body>
</html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_template = _env.from_string(TEMPLATE)


FONTS = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'
RUNNING_HEAD = Text("{scope} · {start} 至 {end}", "{scope} · {start} – {end}")
PAGE_NUMBERS = {
    "zh": '"第 " counter(page) " 页，共 " counter(pages) " 页"',
    "en": '"page " counter(page) " of " counter(pages)',
}


def css_string(text: str) -> str:
    """A CSS string literal of `text` that cannot end the string or the style element."""
    escaped = "".join(c if c.isalnum() or c in " -–·:,（）()" else f"\\{ord(c):x} " for c in text)
    return f'"{escaped}"'


def render_html(review: dict[str, Any], lang: Lang = DEFAULT_LANG) -> str:
    tables = []
    for t in all_tables(review, lang):
        cells = [
            {
                "total": len(row) > 1 and row[0] == "" and row[1] == TOTAL(lang),
                "cells": [
                    {"text": fmt(v, k, lang), "num": k != "text"}
                    for v, k in zip(row, t.kinds, strict=True)
                ],
            }
            for row in t.rows
        ]
        tables.append(
            {
                "key": t.key,
                "title": t.title,
                "headers": t.headers,
                "rows": t.rows,
                "cells": cells,
                "empty": t.empty,
            }
        )
    p = review["period"]
    head = RUNNING_HEAD.format(lang, scope=scope_name(review), start=p["from"], end=p["to"])
    return _template.render(
        html_lang="zh-CN" if lang == "zh" else "en",
        fonts=Markup(FONTS),
        running_head=Markup(css_string(head)),
        page_numbers=Markup(PAGE_NUMBERS[lang]),
        sections={k: v(lang) for k, v in SECTIONS.items()},
        title=title(review, lang),
        meta=summary_lines(review, lang),
        charts=[(caption, Markup(svg)) for caption, svg in all_charts(review, lang)],
        tables=tables,
        method=pick(review["ranking"]["method"], lang),
        notes=[pick(n, lang) for n in review["notes"]],
    )


def write_html(review: dict[str, Any], out_dir: Path, lang: Lang) -> list[Path]:
    path = out_dir / "review.html"
    write_text(path, render_html(review, lang))
    return [path]
