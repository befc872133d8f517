"""``lastmile review``: periodic service-quality reviews (registered on the main app)."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, cast

import typer

from lastmile.review.i18n import LANGS, Lang
from lastmile.review.period import CHINA, Period, parse_date
from lastmile.review.schedule import SCHEDULES, due_review


def register(app: typer.Typer) -> None:
    app.command(name="review")(review)


def review(
    out: Annotated[str, typer.Option("--out", help="output directory")],
    date_from: Annotated[
        str | None, typer.Option("--from", help="first day, YYYY-MM-DD (China date)")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="last day, inclusive, YYYY-MM-DD")
    ] = None,
    town: Annotated[str | None, typer.Option("--town", help="only this town (code)")] = None,
    carrier: Annotated[
        str | None, typer.Option("--carrier", help="only this carrier (brand code)")
    ] = None,
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", help="html, pdf, md, csv or json (repeatable); default html"),
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="zh (Chinese, the default) or en (English edition)")
    ] = "zh",
    network: Annotated[
        str | None, typer.Option("--network", help="network.v1 file (default: LASTMILE_NETWORK)")
    ] = None,
    scans: Annotated[
        str | None,
        typer.Option("--scans", help="replay this scan.v1 JSONL instead of reading Redis"),
    ] = None,
    complaints: Annotated[
        str | None, typer.Option("--complaints", help="complaint.v1 JSONL to replay")
    ] = None,
    config: Annotated[str | None, typer.Option("--config", help="rules config (YAML/JSON)")] = None,
    schedule: Annotated[
        str | None,
        typer.Option("--schedule", help="semi-monthly: the report due next, for every town"),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="with --schedule: the day it runs (default today, China)"),
    ] = None,
    salt: Annotated[
        str | None,
        typer.Option(
            "--salt",
            help="key of the courier pseudonyms (default: LASTMILE_REVIEW_SALT or the key file)",
        ),
    ] = None,
) -> None:
    """Service-quality review per town and carrier, from Redis or a replay of the log."""
    from lastmile.console import console, fail, settings_or_fail
    from lastmile.console import load_inputs as _load
    from lastmile.review.report import FORMATS, redis_pair, replay_pair, review_of, write_review

    settings = settings_or_fail()
    formats = fmt or (["html", "json"] if schedule else ["html"])
    for f in formats:
        if f not in FORMATS:
            fail(f"--format {f!r}: want one of {', '.join(FORMATS)}")
    if lang not in LANGS:
        fail(f"--lang {lang!r}: want one of {', '.join(LANGS)}")
    edition = cast(Lang, lang)
    if complaints and not scans:
        fail("--complaints needs --scans (a replay)")
    for path in (scans, complaints):
        if path and path != "-" and not os.path.isfile(path):
            fail(f"input file not found: {path}")
    net, cfg = _load(network or settings.network, config or settings.rules)
    for code, what in ((town, "town"),):
        if code is not None and code not in net.towns:
            fail(
                f"--{what} {code!r} is not a town of {net.county_name}",
                "use a town code of the network file",
            )

    period: Period | None = None
    try:
        if schedule is not None:
            if schedule not in SCHEDULES:
                fail(f"--schedule {schedule!r}: want one of {', '.join(SCHEDULES)}")
            today = parse_date(as_of) if as_of else datetime.now(CHINA).date()
            due = due_review(today)
            period = due.period
            console.print(f"semi-monthly report due by {due.due}: period {period.label()}")
        elif date_from or date_to:
            if not (date_from and date_to):
                fail("give both --from and --to")
            period = Period.parse(date_from, date_to)  # type: ignore[arg-type]
    except ValueError as exc:
        fail(str(exc))

    if scans:
        from lastmile.review.replay import load_replay

        replay = load_replay(net, cfg, scans, complaints)
        if period is None:
            period = replay.span()
            if period is None:
                fail("the log holds no valid event", "check --scans")
            console.print(f"period: the whole log, {period.label()}")
        pair = replay_pair(replay, period)
    else:
        if period is None:
            fail("give --from and --to (or --schedule) when reading Redis")
        from redis.exceptions import RedisError

        from lastmile.io.redis_client import redis_options, shown_url
        from lastmile.io.secret_files import SecretFileError

        try:
            options = redis_options(settings)
        except SecretFileError as exc:
            fail(str(exc), "fix the LASTMILE_* variable it names")
        try:
            pair = asyncio.run(
                redis_pair(settings.redis_url, settings.redis_prefix, net, cfg, period, options)
            )
        except (OSError, RedisError) as exc:
            fail(
                f"reading Redis at {shown_url(settings.redis_url)} failed: "
                f"{type(exc).__name__}: {exc}",
                "is the stack up? `make up`",
                code=1,
            )

    current = pair[0] if schedule is not None else pair[0].restrict(town, carrier)
    if current.empty:
        where = (
            "the replayed log"
            if scans
            else f"Redis at {shown_url(settings.redis_url)} (prefix {settings.redis_prefix})"
        )
        fail(
            f"no data for {period.label()} in {where}"
            + (
                f" for {' '.join(x for x in (town, carrier) if x)}"
                if (town or carrier) and schedule is None
                else ""
            ),
            "check the period, the filters, LASTMILE_REDIS_URL and LASTMILE_REDIS_PREFIX; "
            "no report was written",
            code=1,
        )
    from lastmile.review.secret import pseudonym_key

    try:
        key, note = pseudonym_key(salt or settings.review_salt, settings.review_key_file)
    except (OSError, ValueError) as exc:
        fail(f"pseudonym key: {exc}", "set LASTMILE_REVIEW_SALT or fix LASTMILE_REVIEW_KEY_FILE", 1)
    if note:
        console.print(note)
    out_dir = Path(out)
    scopes: list[tuple[Path, str | None]] = [(out_dir, town)]
    if schedule is not None:
        base = out_dir / period.slug()
        scopes = [(base / "county", None)] + [(base / code, code) for code in net.towns]
    from lastmile.review.render_pdf import PdfError

    for target, code in scopes:
        doc = review_of(pair, net, cfg, town=code, carrier=carrier, salt=key)
        try:
            written = write_review(doc, formats, target, edition)
        except PdfError as exc:
            fail(f"--format pdf: {exc}", "install Debian's chromium (deploy/local/install.sh)", 1)
        for done in written:
            console.print(f"wrote {done}")
