"""The review's two editions: Chinese (``zh``, the default, what towns and the county office
file) and English (``en``). Every word a report shows is a :class:`Text` with both.

Renderers take a ``lang`` and call ``text(lang)``; the review dict itself stays language-
neutral except for its notes and ranking method, which carry both editions
(``{"zh": ..., "en": ...}``) so a JSON reader can show either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"


@dataclass(frozen=True)
class Text:
    """One phrase in both editions; ``{name}`` placeholders filled by :meth:`format`."""

    zh: str
    en: str

    def __call__(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en

    def format(self, lang: Lang, **params: Any) -> str:
        return self(lang).format(**params)

    def both(self, **params: Any) -> dict[str, str]:
        """Both editions, filled: what a note or the method is in the review dict."""
        return {lang: self.format(lang, **params) for lang in LANGS}


def pick(value: str | dict[str, str], lang: Lang) -> str:
    """The `lang` edition of a note or method (a plain string is shown as it is)."""
    return value if isinstance(value, str) else value.get(lang) or value.get("en", "")


TYPE_NAMES = {
    "wrong_address": Text("不按址投递", "delivery not to the address"),
    "false_signoff": Text("虚假签收", "false sign-off"),
    "extra_fee": Text("违规二次收费", "second fee"),
}
RULE_NAMES = {
    "left_at_town_or_county": Text("放在镇/县中心", "left at a town/county centre"),
    "wrong_village_point": Text("投错村网点", "signed at another village's point"),
    "far_from_address": Text("远离地址", "signed far from the address"),
    "complaint": Text("投诉", "complaint"),
    "movement_after_signoff": Text("签收后仍有运输扫描", "movement after sign-off"),
    "impossible_travel": Text("不可能的位移", "impossible travel"),
    "bulk_signoff": Text("批量签收", "bulk sign-off"),
    "fee_charged": Text("收取派送费", "fee charged"),
}
TIERS = {
    "county": Text("县级共配中心", "county centre"),
    "town": Text("镇级服务中心", "town centre"),
    "village": Text("村级服务网点", "village point"),
}
UNKNOWN_TOWN = Text("未知乡镇", "unknown town")
NOT_AVAILABLE = Text("—", "n/a")
YES, NO = Text("是", "yes"), Text("否", "no")
NONE_LISTED = Text("—", "—")
TOTAL = Text("合计", "total")


def china_time(iso: str, lang: Lang) -> str:
    """An ISO time with its offset shown as China time: ``2026-03-16 06:00（北京时间）``."""
    from lastmile.review.period import CHINA

    at = datetime.fromisoformat(iso).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    return CHINA_TIME.format(lang, at=at)


CHINA_TIME = Text("{at}（北京时间）", "{at} China time (UTC+8)")
