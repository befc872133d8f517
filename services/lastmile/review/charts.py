"""Charts of the HTML report: matplotlib → inline SVG, glyphs embedded as paths.

Chinese labels need a CJK font (Debian: fonts-noto-cjk). It is looked up through
matplotlib's font_manager; without one the charts fall back to Latin labels (town codes,
English type names) and a warning is logged, so they never show empty boxes.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from lastmile.review.collected import TYPE_LABELS, TYPES

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
)
CJK_FILES = (
    "NotoSansCJK",
    "NotoSerifCJK",
    "SourceHanSans",
    "wqy-zenhei",
    "wqy-microhei",
    "DroidSansFallback",
)
COLORS = {"wrong_address": "#d62728", "false_signoff": "#9467bd", "extra_fee": "#ff7f0e"}


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Family name of an installed CJK font, or None (logged once)."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    if not names & set(CJK_FAMILIES):
        # matplotlib caches its font list: a font installed after the cache was built is
        # only found by looking at the system's font files again
        for path in font_manager.findSystemFonts():
            if any(k in Path(path).name for k in CJK_FILES):
                font_manager.fontManager.addfont(path)
        names = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names:
            return family
    log.warning(
        "no CJK font found (install Debian's fonts-noto-cjk): "
        "charts use Latin labels instead of Chinese"
    )
    return None


def _setup() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = cjk_font()
    plt.rcParams.update(
        {
            "svg.fonttype": "path",  # glyphs as outlines: the SVG needs no font to display
            "font.family": "sans-serif",
            "font.sans-serif": [font, "DejaVu Sans"] if font else ["DejaVu Sans"],
            "axes.unicode_minus": False,
            "font.size": 9,
            "svg.hashsalt": "lastmile",  # deterministic ids
        }
    )
    return plt


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _town_label(t: dict[str, Any], cjk: bool) -> str:
    return t["name"] if cjk else t["code"]


def _type_label(vtype: str, cjk: bool) -> str:
    return f"{TYPE_LABELS[vtype]} {vtype}" if cjk else vtype


def violations_by_town(review: dict[str, Any]) -> str | None:
    towns = [t for t in review["towns"] if t["violations_total"] or t["deliveries"]]
    if not towns:
        return None
    plt = _setup()
    cjk = cjk_font() is not None
    fig, ax = plt.subplots(figsize=(7.2, 0.32 * len(towns) + 1.2))
    labels = [_town_label(t, cjk) for t in towns][::-1]
    left = [0] * len(towns)
    for vtype in TYPES:
        values = [t["violations"][vtype] for t in towns][::-1]
        ax.barh(labels, values, left=left, color=COLORS[vtype], label=_type_label(vtype, cjk))
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("违规件数 violations" if cjk else "violations")
    ax.set_title(
        "各乡镇违规（按类型）Violations by town and type" if cjk else "Violations by town and type"
    )
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


def rates_by_town(review: dict[str, Any]) -> str | None:
    towns = [t for t in review["towns"] if "coverage" in t]
    if not towns:
        return None
    plt = _setup()
    cjk = cjk_font() is not None
    fig, ax = plt.subplots(figsize=(7.2, 3.2))
    xs = list(range(len(towns)))
    cov = [(t["coverage"] or 0) * 100 for t in towns]
    ont = [(t["on_time_rate"] or 0) * 100 for t in towns]
    ax.bar(
        [x - 0.2 for x in xs],
        cov,
        width=0.4,
        color="#2ca02c",
        label="通达率 coverage" if cjk else "coverage",
    )
    ax.bar(
        [x + 0.2 for x in xs],
        ont,
        width=0.4,
        color="#1f77b4",
        label="72小时准时率 on-time" if cjk else "72 h on-time",
    )
    ax.set_xticks(xs, [_town_label(t, cjk) for t in towns], rotation=45, ha="right")
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title("通达率与准时率 Coverage and on-time rate" if cjk else "Coverage and on-time rate")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _svg(fig)


def violations_per_carrier(review: dict[str, Any]) -> str | None:
    carriers = [c for c in review["carriers"] if c["violations_per_10k_deliveries"] is not None]
    if not carriers:
        return None
    plt = _setup()
    cjk = cjk_font() is not None
    fig, ax = plt.subplots(figsize=(7.2, 2.8))
    names = [c["code"] for c in carriers]
    bottom = [0.0] * len(carriers)
    for vtype in TYPES:
        values = [c["violations_per_10k_by_type"][vtype] or 0.0 for c in carriers]
        ax.bar(names, values, bottom=bottom, color=COLORS[vtype], label=_type_label(vtype, cjk))
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    ax.set_ylabel("每万件投递 per 10,000 deliveries" if cjk else "per 10,000 deliveries")
    ax.set_title(
        "各品牌每万件违规 Violations per 10,000 deliveries by carrier"
        if cjk
        else "Violations per 10,000 deliveries by carrier"
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return _svg(fig)


def all_charts(review: dict[str, Any]) -> list[tuple[str, str]]:
    """(caption, svg) of every chart the review has data for."""
    out = []
    for caption, fn in (
        ("各乡镇违规 Violations by town", violations_by_town),
        ("通达率与准时率 Coverage and on-time rate", rates_by_town),
        ("各品牌违规率 Violation rate by carrier", violations_per_carrier),
    ):
        svg = fn(review)
        if svg is not None:
            out.append((caption, svg))
    return out
