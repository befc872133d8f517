"""The ``lastmile`` command: one entry point, one sub-command per job."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer
from rich.markup import escape

from lastmile.console import console, fail, load_inputs, settings_or_fail

app = typer.Typer(
    name="lastmile",
    help="Parcel tracking and last-mile delivery-quality monitor (快递进村).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

MAX_SIM_PARCELS = 2_000_000  # a simulation is built in memory before it is written
NetworkOpt = Annotated[
    str | None,
    typer.Option(
        "--network",
        help="network.v1 file (JSON or YAML); default LASTMILE_NETWORK, else the Yiyuan sample",
    ),
]


def network_or_default(network: str | None) -> str:
    """`--network` when given, else LASTMILE_NETWORK (the settings' default: the bundled sample)."""
    return network if network is not None else settings_or_fail().network


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"lastmile {version('lastmile')}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="show the traceback of an unexpected error")
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", help="print the version and exit", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Parcel tracking and last-mile delivery-quality monitor (快递进村)."""


@app.command()
def detect(
    scans: Annotated[str, typer.Option("--scans", help="scan.v1 JSONL ('-' for stdin)")],
    out: Annotated[str, typer.Option("--out", help="violations JSONL ('-' for stdout)")],
    network: NetworkOpt = None,
    complaints: Annotated[
        str | None, typer.Option("--complaints", help="complaint.v1 JSONL")
    ] = None,
    dlq: Annotated[
        str | None, typer.Option("--dlq", help="dead-letter JSONL for invalid lines")
    ] = None,
    config: Annotated[str | None, typer.Option("--config", help="rules config (YAML/JSON)")] = None,
    summary_json: Annotated[
        str | None, typer.Option("--summary-json", help="also write the summary as JSON")
    ] = None,
    indicators: Annotated[
        str | None,
        typer.Option("--indicators", help="also write the indicators (contract §6, §7) as JSON"),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="processing time, RFC 3339 (clock skew, detected_at); default: now",
        ),
    ] = None,
) -> None:
    """Run the rulebook over JSONL exports; write each violation once."""
    from lastmile.commands.detect import print_summary, run_detect
    from lastmile.io.atomic import SamePathError, check_outputs, check_writable, write_bytes

    network = network_or_default(network)
    net, cfg = load_inputs(network, config)
    for path in (scans, complaints):
        if path not in (None, "-"):
            import os

            if not os.path.isfile(path):  # type: ignore[arg-type]
                fail(f"input file not found: {path}")
    try:
        check_outputs(
            [
                ("--scans", scans),
                ("--complaints", complaints),
                ("--network", network),
                ("--config", config),
            ],
            [
                ("--out", out),
                ("--dlq", dlq),
                ("--summary-json", summary_json),
                ("--indicators", indicators),
            ],
        )
        for option, path in (
            ("--out", out),
            ("--dlq", dlq),
            ("--summary-json", summary_json),
            ("--indicators", indicators),
        ):
            check_writable(option, path)
    except SamePathError as exc:
        fail(str(exc), "write the outputs to other paths")
    except OSError as exc:
        fail(f"{exc.filename}: {exc.strerror}", "choose a path you can write", code=1)
    if out == "-" and dlq == "-":
        fail("--out and --dlq cannot both be stdout")
    processing_time = None
    if as_of is not None:
        from lastmile.contract.rfc3339 import TimeFormatError, parse_rfc3339

        try:
            processing_time = parse_rfc3339(as_of)
        except TimeFormatError as exc:
            fail(
                f"--as-of {as_of!r}: {exc}", "give an RFC 3339 time, e.g. 2024-06-10T00:00:00+08:00"
            )
    summary = run_detect(net, cfg, scans, complaints, out, dlq, processing_time)
    print_summary(summary)
    if summary_json:
        write_bytes(summary_json, orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    if indicators:
        write_bytes(indicators, orjson.dumps(summary["indicators"], option=orjson.OPT_INDENT_2))


@app.command()
def simulate(
    out: Annotated[str, typer.Option("--out", help="output directory")],
    network: NetworkOpt = None,
    days: Annotated[int, typer.Option("--days", min=1, max=366)] = 1,
    parcels_per_day: Annotated[
        int, typer.Option("--parcels-per-day", min=1, max=MAX_SIM_PARCELS)
    ] = 5000,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    start: Annotated[str | None, typer.Option("--start", help="first day, YYYY-MM-DD")] = None,
    rate: Annotated[
        list[str] | None, typer.Option("--rate", help="injection rate, RULE=FRACTION (repeatable)")
    ] = None,
    stalled_perishable: Annotated[
        int, typer.Option("--stalled-perishable", min=0, help="perishable parcels to stall")
    ] = 0,
    silent_points: Annotated[
        int, typer.Option("--silent-points", min=0, help="village points that never scan")
    ] = 0,
    missing_gps_carrier: Annotated[
        str | None, typer.Option("--missing-gps-carrier", help="carrier signing without GPS")
    ] = None,
    skewed_clock_carrier: Annotated[
        str | None,
        typer.Option("--skewed-clock-carrier", help="carrier dating outbound scans years ahead"),
    ] = None,
) -> None:
    """Synthetic county traffic with injected violations and a ground-truth file."""
    from lastmile.simulator import DataFaults
    from lastmile.simulator.command import run_simulate_command

    rates: dict[str, float] = {}
    for item in rate or []:
        key, sep, value = item.partition("=")
        try:
            rates[key] = float(value)
        except ValueError:
            fail(f"--rate {item!r}: want RULE=FRACTION, e.g. fee_charged=0.01")
        if not sep:
            fail(f"--rate {item!r}: want RULE=FRACTION")
    if days * parcels_per_day > MAX_SIM_PARCELS:
        fail(
            f"--days {days} x --parcels-per-day {parcels_per_day} is more than "
            f"{MAX_SIM_PARCELS:,} parcels",
            "simulate fewer parcels, or several runs with different --seed and --start",
        )
    network = network_or_default(network)
    load_inputs(network)
    from pathlib import Path

    from lastmile.io.atomic import SamePathError, check_outputs, check_writable

    names = ("scans.jsonl", "complaints.jsonl", "truth.jsonl", "truth_summary.json")
    try:
        check_outputs([("--network", network)], [("--out", str(Path(out) / n)) for n in names])
        check_writable("--out", str(Path(out) / names[0]))  # before minutes of simulation
    except SamePathError as exc:
        fail(str(exc), "choose another --out directory")
    except OSError as exc:
        fail(f"{exc.filename}: {exc.strerror}", "choose a directory you can write", code=1)
    try:
        faults = DataFaults(
            stalled_perishable, silent_points, missing_gps_carrier, skewed_clock_carrier
        )
        run_simulate_command(network, days, parcels_per_day, seed, out, start, rates, faults)
    except ValueError as exc:
        fail(str(exc))


@app.command()
def score(
    truth: Annotated[
        str, typer.Option("--truth", help="truth JSONL (violation_id, type, rule, carrier)")
    ],
    violations: Annotated[str, typer.Option("--violations", help="violations JSONL to score")],
) -> None:
    """Precision and recall of detected violations against a ground truth, per type and rule."""
    from rich.table import Table

    from lastmile.evaluation import score as do_score

    def read(path: str, option: str) -> list[dict]:
        rows = []
        with open(path, "rb") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip() or (n == 1 and line.strip() == b"\xef\xbb\xbf"):
                    continue
                try:
                    row = orjson.loads(line.removeprefix(b"\xef\xbb\xbf") if n == 1 else line)
                except orjson.JSONDecodeError:
                    fail(f"{option} {path}, line {n}: not a JSON line")
                ok = isinstance(row, dict) and all(
                    isinstance(row.get(k), str) for k in ("violation_id", "type", "rule")
                )
                if not ok:
                    fail(f"{option} {path}, line {n}: want an object with violation_id, type, rule")
                rows.append(row)
        return rows

    result = do_score(read(truth, "--truth"), read(violations, "--violations"))
    t = Table(title="precision / recall", title_justify="left")
    for col in ("type/rule", "truth", "found", "matched", "precision", "recall"):
        t.add_column(col, justify="right" if col != "type/rule" else "left")
    for name, r in [
        *result["by_rule"].items(),
        *[(f"[bold]{k}", v) for k, v in result["by_type"].items()],
    ]:
        t.add_row(name, *(str(r[k]) for k in ("truth", "found", "matched", "precision", "recall")))
    console.print(t)
    console.print(
        f"carrier mismatches {result['carrier_mismatches']}; repeated ids {result['repeated_ids']}"
    )
    sys.stdout.write(orjson.dumps(result["overall"]).decode() + "\n")


@app.command()
def demo(
    parcels: Annotated[int, typer.Option("--parcels", min=100)] = 4000,
    seed: Annotated[int, typer.Option("--seed")] = 1,
) -> None:
    """The whole pipeline on the sample county (needs the local stack: `make up`)."""
    import os
    from pathlib import Path

    from lastmile.commands.demo import run_demo

    settings = settings_or_fail()
    try:
        code = run_demo(settings, Path(os.environ.get("RUN_DIR", "run")), parcels, seed)
    except (OSError, TimeoutError) as exc:
        fail(f"demo failed: {exc}", "is the stack up? `make up`; then `make demo` again")
    raise typer.Exit(code)


@app.command()
def worker(
    loglevel: Annotated[str, typer.Option("--loglevel")] = "info",
) -> None:
    """Run one streaming worker (settings from LASTMILE_* environment variables)."""
    from lastmile.commands.worker import WorkerFailed, exit_now, run_worker
    from lastmile.io.files import ConfigError, NetworkError

    settings = settings_or_fail()
    try:
        run_worker(settings, loglevel)
    except WorkerFailed as exc:
        hint = "see the log above for where it happened; the worker may be restarted"
        try:
            fail(str(exc), hint, 1)
        finally:
            exit_now(1)  # not held open by a Kafka client thread still retrying the broker
    except ValueError as exc:  # a setting the worker refuses (e.g. LASTMILE_FAULTS)
        fail(str(exc), "fix the LASTMILE_* variable it names")
    except NetworkError as exc:
        fail(str(exc), "set LASTMILE_NETWORK to a valid network.v1 file")
    except ConfigError as exc:
        fail(str(exc), "fix LASTMILE_RULES or unset it for the contract defaults")


@app.command()
def publish(
    scans: Annotated[str | None, typer.Option("--scans", help="scan.v1 JSONL to produce")] = None,
    complaints: Annotated[
        str | None, typer.Option("--complaints", help="complaint.v1 JSONL")
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", help="messages per second (default: max)")
    ] = None,
) -> None:
    """Produce JSONL lines unchanged to scans.v1 / complaints.v1, keyed by parcel_id."""
    import asyncio
    import math
    import os

    from lastmile.commands.publish import publish as do_publish
    from lastmile.io.kafka_access import KafkaAccessError, check_access, kafka_access

    if not scans and not complaints:
        fail("nothing to publish", "give --scans and/or --complaints")
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        fail(f"--rate {rate}: want a positive number of messages per second")
    for path in (scans, complaints):
        if path and not os.path.isfile(path):
            fail(f"input file not found: {path}")
    settings = settings_or_fail()
    try:
        kafka = kafka_access(settings)
    except KafkaAccessError as exc:
        fail(str(exc), "fix the LASTMILE_* variable it names")
    try:
        asyncio.run(check_access(kafka))
        sent = asyncio.run(do_publish(kafka, scans, complaints, rate, settings.topic_prefix))
    except Exception as exc:  # connection refused, authentication or authorization refused
        from lastmile.errors import describe

        message, hint, _ = describe(exc)
        fail(f"publishing to {settings.kafka_bootstrap} failed: {message}", hint, code=1)
    for topic, n in sent.items():
        console.print(f"published {n} lines to {topic}")


# sub-commands that live beside their adapters
from lastmile.api.cli import register as register_api  # noqa: E402
from lastmile.commands.backup import register as register_backup  # noqa: E402
from lastmile.review.cli import register as register_review  # noqa: E402
from lastmile.router.cli import register as register_router  # noqa: E402

register_review(app)
register_api(app)
register_router(app)
register_backup(app)


def main() -> None:
    """Entry point: an unexpected error is one line (exit 1), its traceback only with --debug."""
    from lastmile.errors import describe

    debug = "--debug" in sys.argv[1:]
    try:
        app()
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("interrupted", soft_wrap=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        message, hint, code = describe(exc)
        console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
        console.print(f"[yellow]hint:[/] {escape(hint)}", soft_wrap=True)
        sys.exit(code)


if __name__ == "__main__":
    main()
