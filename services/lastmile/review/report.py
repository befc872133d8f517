"""Gather a period and its previous one from a source, build the review, write formats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lastmile.domain.network import Network
from lastmile.domain.rules import RuleConfig
from lastmile.review.collected import Collected
from lastmile.review.figures import build_review
from lastmile.review.i18n import DEFAULT_LANG, Lang
from lastmile.review.period import Period
from lastmile.review.render_csv import write_csv
from lastmile.review.render_html import write_html
from lastmile.review.render_json import write_json
from lastmile.review.render_md import write_md
from lastmile.review.render_pdf import write_pdf
from lastmile.review.replay import Replay, collect_replay

FORMATS: dict[str, Callable[[dict[str, Any], Path, Lang], list[Path]]] = {
    "json": write_json,
    "html": write_html,
    "pdf": write_pdf,
    "md": write_md,
    "csv": write_csv,
}


def write_review(
    review: dict[str, Any], formats: list[str], out_dir: Path, lang: Lang = DEFAULT_LANG
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for f in formats:
        written += FORMATS[f](review, out_dir, lang)
    return written


def replay_pair(replay: Replay, period: Period) -> tuple[Collected, Collected]:
    return collect_replay(replay, period), collect_replay(replay, period.previous())


async def redis_pair(
    url: str,
    prefix: str,
    network: Network,
    config: RuleConfig,
    period: Period,
    options: dict[str, Any] | None = None,
) -> tuple[Collected, Collected]:
    from lastmile.io.redis_client import connect
    from lastmile.review.redis_source import collect_redis

    redis = connect(url, max_connections=4, decode_responses=False, options=options)
    try:
        cur = await collect_redis(redis, network, config, period, prefix)
        prev = await collect_redis(redis, network, config, period.previous(), prefix)
    finally:
        await redis.aclose()
    return cur, prev


def review_of(
    pair: tuple[Collected, Collected],
    network: Network,
    config: RuleConfig,
    town: str | None = None,
    carrier: str | None = None,
    salt: str = "",
) -> dict[str, Any]:
    cur, prev = pair
    return build_review(cur, prev, network, config, town=town, carrier=carrier, salt=salt)
