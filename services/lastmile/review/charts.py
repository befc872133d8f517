"""Charts of the HTML report: matplotlib → inline SVG, glyphs embedded as paths.

Chinese labels need a CJK font (Debian: fonts-noto-cjk). It is looked up through
matplotlib's font_manager; without one the charts fall back to Latin labels (town codes,
English labels) and a warning is logged, so they never show empty boxes. Labels come in the
edition asked for; a single town's report compares the town with the county's median town.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from lastmile.review.collected import TYPES, UNKNOWN
from lastmile.review.i18n import DEFAULT_LANG, TYPE_NAMES, UNKNOWN_TOWN, Lang, Text

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


def _lang(lang: Lang) -> Lang:
    """The edition of the labels: English without a CJK font (never boxes for glyphs)."""
    return lang if cjk_font() is not None else "en"


def _town_label(t: dict[str, Any], lang: Lang) -> str:
    if cjk_font() is None:
        return str(t["code"])
    return UNKNOWN_TOWN(lang) if t["code"] == UNKNOWN else str(t["name"])


C = {
    "violations": Text("违规件数", "violations"),
    "by_town_title": Text("各乡镇违规（按类型）", "Violations by town and type"),
    "coverage": Text("通达率", "coverage"),
    "on_time": Text("72小时准时率", "72 h on-time"),
    "rates_title": Text("通达率与准时率", "Coverage and on-time rate"),
    "per_10k": Text("每万件投递违规", "violations per 10,000 deliveries"),
    "by_carrier_title": Text("各品牌每万件投递违规", "Violations per 10,000 deliveries by carrier"),
    "median": Text("全县各乡镇中位数", "median of the county's towns"),
    "total": Text("合计", "total"),
    "town_rates_title": Text(
        "{town}与全县中位数：通达率与准时率", "{town} against the county median: coverage, on time"
    ),
    "town_viol_title": Text(
        "{town}与全县中位数：每万件投递违规", "{town} against the county median: violation rate"
    ),
}
CAPTIONS = {
    "by_town": Text("各乡镇违规", "Violations by town"),
    "rates": Text("通达率与准时率", "Coverage and on-time rate"),
    "by_carrier": Text("各品牌违规率", "Violation rate by carrier"),
    "town_rates": Text(
        "本镇通达率、准时率与全县各乡镇中位数比较",
        "The town's coverage and on-time rate against the median of the county's towns",
    ),
    "town_viol": Text(
        "本镇每万件投递违规（按类型）与全县各乡镇中位数比较",
        "The town's violations per 10,000 deliveries by type against the county's median town",
    ),
}


def violations_by_town(review: dict[str, Any], lang: Lang) -> str | None:
    towns = [t for t in review["towns"] if t["violations_total"] or t["deliveries"]]
    if not towns:
        return None
    plt = _setup()
    lang = _lang(lang)
    fig, ax = plt.subplots(figsize=(7.2, 0.32 * len(towns) + 1.2))
    labels = [_town_label(t, lang) for t in towns][::-1]
    left = [0] * len(towns)
    for vtype in TYPES:
        values = [t["violations"][vtype] for t in towns][::-1]
        ax.barh(labels, values, left=left, color=COLORS[vtype], label=TYPE_NAMES[vtype](lang))
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel(C["violations"](lang))
    ax.set_title(C["by_town_title"](lang))
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


def rates_by_town(review: dict[str, Any], lang: Lang) -> str | None:
    towns = [t for t in review["towns"] if "coverage" in t]
    if not towns:
        return None
    plt = _setup()
    lang = _lang(lang)
    fig, ax = plt.subplots(figsize=(7.2, 3.2))
    xs = list(range(len(towns)))
    cov = [(t["coverage"] or 0) * 100 for t in towns]
    ont = [(t["on_time_rate"] or 0) * 100 for t in towns]
    ax.bar([x - 0.2 for x in xs], cov, width=0.4, color="#2ca02c", label=C["coverage"](lang))
    ax.bar([x + 0.2 for x in xs], ont, width=0.4, color="#1f77b4", label=C["on_time"](lang))
    ax.set_xticks(xs, [_town_label(t, lang) for t in towns], rotation=45, ha="right")
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title(C["rates_title"](lang))
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _svg(fig)


def violations_per_carrier(review: dict[str, Any], lang: Lang) -> str | None:
    carriers = [c for c in review["carriers"] if c["violations_per_10k_deliveries"] is not None]
    if not carriers:
        return None
    plt = _setup()
    lang = _lang(lang)
    fig, ax = plt.subplots(figsize=(7.2, 2.8))
    names = [c["code"] for c in carriers]
    bottom = [0.0] * len(carriers)
    for vtype in TYPES:
        values = [c["violations_per_10k_by_type"][vtype] or 0.0 for c in carriers]
        ax.bar(names, values, bottom=bottom, color=COLORS[vtype], label=TYPE_NAMES[vtype](lang))
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    ax.set_ylabel(C["per_10k"](lang))
    ax.set_title(C["by_carrier_title"](lang))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return _svg(fig)


def _town_and_median(
    labels: list[str],
    town_values: list[float | None],
    median_values: list[float | None],
    town: dict[str, Any],
    title: Text,
    lang: Lang,
) -> Any:
    """Paired horizontal bars, the town's and the county median's, with their values."""
    plt = _setup()
    name = _town_label(town, lang)
    fig, ax = plt.subplots(figsize=(7.2, 0.55 * len(labels) + 1.2))
    ys = list(range(len(labels)))[::-1]
    for offset, values, color, label in (
        (0.2, town_values, "#1f77b4", name),
        (-0.2, median_values, "#aaaaaa", C["median"](lang)),
    ):
        bars = ax.barh([y + offset for y in ys], [v or 0.0 for v in values], height=0.38,
                       color=color, label=label)  # fmt: skip
        ax.bar_label(bars, labels=["—" if v is None else f"{v:g}" for v in values], fontsize=7)
    ax.set_yticks(ys, labels)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title.format(lang, town=name), pad=20)
    return fig, ax


def _single_town(review: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The town of a single-town report and the county's medians, or None."""
    med = review.get("county_medians")
    return (review["towns"][0], med) if med and len(review["towns"]) == 1 else None


def _pct(x: float | None) -> float | None:
    return None if x is None else round(x * 100, 1)


def town_rates_against_county(review: dict[str, Any], lang: Lang) -> str | None:
    """A single town's coverage and on-time rate beside the median of the county's towns."""
    if (pair := _single_town(review)) is None:
        return None
    (town, med), lang = pair, _lang(lang)
    fig, ax = _town_and_median(
        [C["coverage"](lang) + " %", C["on_time"](lang) + " %"],
        [_pct(town.get("coverage")), _pct(town["on_time_rate"])],
        [_pct(med["coverage"]), _pct(med["on_time_rate"])],
        town,
        C["town_rates_title"],
        lang,
    )
    ax.set_xlim(0, 112)
    return _svg(fig)


def town_violations_against_county(review: dict[str, Any], lang: Lang) -> str | None:
    """A single town's violations per 10,000 deliveries, by type and in all, beside the median."""
    if (pair := _single_town(review)) is None:
        return None
    (town, med), lang = pair, _lang(lang)

    def rates(row: dict[str, Any]) -> list[float | None]:
        by_type = row["violations_per_10k_by_type"]
        return [*[by_type[t] for t in TYPES], row["violations_per_10k_deliveries"]]

    labels = [*[TYPE_NAMES[t](lang) for t in TYPES], C["total"](lang)]
    fig, ax = _town_and_median(labels, rates(town), rates(med), town, C["town_viol_title"], lang)
    ax.set_xlabel(C["per_10k"](lang))
    return _svg(fig)


def all_charts(review: dict[str, Any], lang: Lang = DEFAULT_LANG) -> list[tuple[str, str]]:
    """(caption, svg) of every chart the review has data for.

    A county report compares its towns; a single town's report compares the town with the
    median of the county's towns (a chart of one bar would say little).
    """
    single_town = bool(review["filters"].get("town")) and review.get("county_medians")
    charts = (
        (("town_rates", town_rates_against_county), ("town_viol", town_violations_against_county))
        if single_town
        else (("by_town", violations_by_town), ("rates", rates_by_town))
    )
    out = []
    for key, fn in (*charts, ("by_carrier", violations_per_carrier)):
        svg = fn(review, lang)
        if svg is not None:
            out.append((CAPTIONS[key](lang), svg))
    return out
